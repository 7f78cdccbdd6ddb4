// Command xmppd is a small but real XMPP server that loads the invites plugin: the
// example host that operators start first and copy from.
//
// # Running it
//
// The quickest start builds both binaries and runs the demo, which needs no
// configuration at all:
//
//	bash scripts/demo.sh      # go build -o bin/ ./cmd/invites-plugin ./examples/xmppd && bin/xmppd -demo
//
// The demo serves the domain localhost, clients on 127.0.0.1:5222 and HTTP on
// 127.0.0.1:5280, with its data in ./data.
// At every start it gives admin@localhost a new random password (created on the
// first run, reset on later ones, so the printed password always works), creates an
// API key with "invites-plugin keys create localhost demo" on the first run and
// reuses it on the next ones (kept in data/demo-key, mode 0600), turns the plugin's
// invite page on (landing_page = "builtin", unless -plugin-config names a config of
// your own), and prints the JID, the password, the key, the page of an invite to open
// in a browser, and a curl line that creates more:
//
//	http://127.0.0.1:5280/invite?TOKEN
//	curl -i -H 'Authorization: Bearer KEY' http://127.0.0.1:5280/invites_api
//
// A server of your own:
//
//	xmppd -domain example.com -c2s :5222 -http 127.0.0.1:5280 -admin you@example.com \
//	      -tls-cert fullchain.pem -tls-key privkey.pem
//	xmppd -domain example.com adduser you@example.com -     # the password is read from stdin
//
// Every flag is also a key of the TOML file given with -config; flags win:
//
//	domain = "example.com"
//	c2s = ":5222"
//	http_url = "https://example.com"
//	admins = ["you@example.com"]
//	plugin_config = "/etc/invites/invites.toml"
//
// [Config] documents each key, its flag and its default; docs/configuration.md lists
// them all, generated from it.
// Unknown keys are errors.
// The landing page, invite lifetimes, limits and the invite store are the plugin's
// settings, in the file given with -plugin-config.
//
// # What it implements
//
//   - RFC 6120 (XMPP Core), the parts a client needs: client-to-server streams,
//     mandatory STARTTLS (a configured certificate or a self-signed one kept in the
//     data directory), SASL with SCRAM-SHA-256, SCRAM-SHA-1 and PLAIN (PLAIN only
//     over TLS; no -PLUS variants), resource binding to the authenticated account,
//     whitespace between elements at every stage, stream errors, a stanza size limit
//     per client, limits on failed logins per stream and per address, on the
//     connections an address holds before logging in, on the sessions of an account
//     and of an address (administrators exempt), and staged negotiation deadlines
//     (see package c2s).
//     Passwords are stored only as salted SCRAM credentials (RFC 5802: salt,
//     iteration count, StoredKey, ServerKey) in an SQLite file in the data directory,
//     created 0600 with its WAL; the server warns when the data directory is open to
//     other users.
//   - RFC 6121, for accounts of this server (no server-to-server link): rosters kept
//     in the account database (get, set, remove, pushes), presence subscriptions with
//     pre-approval, presence broadcast to subscribers and probes at login, directed
//     presence, and messages and IQs routed between online sessions (no offline
//     storage of accounts' messages: a chat message for an account with no session
//     is answered with service-unavailable; the server's own messages are kept).
//   - XEP-0401 §5.5 and XEP-0379: an invite that names an inviter, redeemed by
//     registration, subscribes the new account and the inviter to each other.
//     A subscription request carrying a contact invite's token from an account that
//     exists needs contract v2 of the plugin (see invites.go); until then it is an
//     ordinary request.
//   - XEP-0030 Service Discovery (disco#info, disco#items), XEP-0199 XMPP Ping.
//   - XEP-0050 Ad-Hoc Commands, routed to the plugin with the bound JID as the
//     requester and its role (administrators come from the configuration): API key
//     management for administrators and the XEP-0401 invite commands. Every refused
//     command step is logged at info with its reason.
//   - XEP-0133 Service Administration, run by xmppd itself for its administrators:
//     delete-user, disable-user and reenable-user. A disabled account's sessions end
//     at once and its logins fail with account-disabled and "This account is disabled
//     by an administrator."; a deleted account goes with its roster and its items in
//     other rosters, and its name is free again. The plugin is told (host events).
//   - Account states for the plugin (plugin.AccountAdmin): active, disabled, and
//     pending an administrator's approval (an invite that needs approval registers
//     its account pending; its logins fail with "This account is waiting for an
//     administrator's approval.").
//   - Messages from the server to its accounts for the plugin (plugin.Messenger):
//     delivered at once to the account's available sessions, or kept in the account
//     database (XEP-0160, 100 per account) for its next available presence, stamped
//     with when they were sent (XEP-0203); a message to no one in particular goes to
//     every administrator.
//   - Host events for the plugin: each login (full JID, the stream's xml:lang), each
//     end of a client stream (its ad-hoc sessions end), each account made with an
//     invite once activated (the plugin confirms the use it held: a server killed
//     between redemption and activation leaves no use spent), and the XEP-0133
//     changes above. Every call to the plugin for a client carries its address, for
//     the plugin's audit records.
//   - XEP-0077 In-Band Registration (legacy fields and the data form) before
//     authentication, with XEP-0445 Pre-Authenticated In-Band Registration
//     (urn:xmpp:ibr-token:0 and the urn:xmpp:pars:0 pre-auth IQ) and the legacy
//     urn:xmpp:invite feature of XEP-0401 0.3.0 that Conversations looks for.
//     Registration is invite-only by default, or open, or closed. Until a token is
//     given, the registration form carries an optional "invitation" field that
//     takes the invite's page URL, its xmpp: URI or its token: clients that show the
//     form but take no invite links (Gajim, Psi+) redeem invites there.
//     Names go through PRECIS (RFC 8265) and a name that looks like an account's or a
//     reserved one (Unicode TS #39 skeletons) is refused, saying which.
//     It never creates an account for a configured administrator or a reserved name
//     (create those with adduser; the server warns at start about administrators
//     without an account), and every refused registration is logged at info with
//     its reason and the client's address, held back when it repeats; bad
//     invitations are budgeted per address.
//     A reset invite (made by an administrator for one account) sets a new password
//     instead: pre-auth with its token, then the account's name and the new password.
//     Every new password follows the plugin's password policy ([password] in its
//     config): a refusal is not-acceptable with the words of the plugin's web page in
//     the stream's language; while the plugin is down, registration waits
//     (service-unavailable) rather than take an unchecked password.
//   - The plugin's HTTP routes on the server's HTTP listener: the invite API at
//     /invites_api, and with landing_page = "builtin" the invite page at /invite and
//     web registration at /register. The listener holds a bounded number of
//     connections, in all and per client address (package connlimit).
//
// The plugin is started and supervised with package host (hashicorp/go-plugin);
// the server answers its callbacks (plugin.HostAPI): accounts from the account
// store, and registration (or a password reset) with an invite for the web page,
// through the same flow as in-band registration.
package main

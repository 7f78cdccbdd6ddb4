// Package cli is the command line of invites-plugin: API keys and invites, against the
// same store the running server uses; its key verbs are compatible with prosodyctl
// mod_invites_api.
//
//	invites-plugin keys create HOST [NAME] [--expires DURATION] [--max-ttl DURATION] [--rate N/PERIOD] [--manage]
//	invites-plugin keys list HOST
//	invites-plugin keys delete HOST ID
//	invites-plugin invites create HOST [--ttl D] [--username U] [--max-uses N] [--note TEXT] [--group G]... [--json]
//	invites-plugin invites create HOST --reset USER [--ttl D] [--note TEXT] [--json]
//	invites-plugin invites list HOST [--status S] [--json]
//	invites-plugin invites show HOST ID [--json]
//	invites-plugin invites update HOST ID [--expires TIME|DURATION] [--max-uses N] [--note TEXT] [--json]
//	invites-plugin invites revoke HOST ID
//	invites-plugin tree HOST JID|INVITE-ID|key:ID [--depth N] [--json]
//	invites-plugin invited-by HOST JID|INVITE-ID [--json]
//	invites-plugin revoke-invites|disable|enable HOST JID|INVITE-ID|key:ID [--subtree] [--dry-run] [--json]
//	invites-plugin pending HOST [--json]
//	invites-plugin approve|reject HOST JID
//	invites-plugin help | -h | --help | --version
//
// Global flags (-config FILE, -data DIR, -store DSN) may stand anywhere before "--".
// A word shaped like a key or invite ID (12 base64url characters) is taken as a word
// even when it begins with "-", since one ID in 64 does; "--" ends the flags too.
// Help and the version go to standard output with exit 0; an operation that fails
// prints "Error: …" on standard error, exit 1; a usage error prints the usage on
// standard error, exit 2. The --json output is the HTTP API's invite object
// (httpapi.Invite).
//
// The command line never makes a store: a data directory given with -data that does
// not exist, or a SQLite store file that does not exist (the server makes it when it
// first starts), is an error naming where it looked and how to point at the server's
// store (-data, -store, INVITES_STORE), rather than a new empty store whose keys the
// server would reject.
//
// A HOST is valid when the config lists it as a [[host]], when an XMPP server that
// loaded the plugin recorded it in the store (which every node's command line reads,
// PostgreSQL included) or in this data directory (config.KnownDomains), or, when none
// of these names any, when it is "localhost". An unknown one prints prosodyctl's
// "Error: please supply a valid host", then a line naming the hosts that are known.
//
// The command line cannot see accounts: "invites create --reset USER" trusts that USER
// exists (a reset invite for no account can never be used), and "--username" does not
// check that the name is free; the ad-hoc commands and the HTTP API, which the server
// serves, do.
package cli

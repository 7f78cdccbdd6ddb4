// Package audit writes the audit log: one structured record per security-relevant
// event of the core (an API key created or deleted; an invite created, redeemed,
// updated, revoked, or refused), naming what happened, who did it (an API key's ID,
// an account's JID, the command line, the host), from where (the client's address when
// known) and to what (the key or invite ID, the account), and never a secret, a token
// or a token hash: core.Event holds none, and this package writes only named fields of
// it.
//
// Records are slog records with the message "audit" and the attribute audit=true, so
// that a log shipper can route them: in the plugin process they travel, as JSON, into
// the host's logger like every other line of the plugin; with a JSON handler there
// (xmppd -log-format json) each is one JSON object a line.
package audit

// Package cli is the command line of invites-plugin: API-key management against the same
// store the running server uses, compatible with prosodyctl mod_invites_api.
//
//	invites-plugin keys create HOST [NAME] [--expires DURATION] [--max-ttl DURATION] [--rate N/PERIOD]
//	invites-plugin keys list HOST
//	invites-plugin keys delete HOST ID
//
// Global flags (-config FILE, -data DIR, -store DSN) may stand anywhere before "--".
// Exit codes: 0 success, 1 an operation failed (an "Error: …" line on stderr),
// 2 a usage error (usage on stderr).
//
// A HOST is valid when the config lists it as a [[host]], when an XMPP server that
// loaded the plugin on this data directory reported it (see config.KnownDomains), or,
// when neither names any, when it is "localhost".
package cli

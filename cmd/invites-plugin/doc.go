// Command invites-plugin is the invites plugin binary.
//
// Started by an XMPP server through hashicorp/go-plugin (see package host), it serves the
// ad-hoc commands and redemption over gRPC, and the invite API's HTTP exchanges on the
// unix sockets the server hands it (internal/transport).
// Run by a person, it manages API keys against the same store:
//
//	invites-plugin keys create HOST [NAME] [--expires DURATION] [--max-ttl DURATION] [--rate N/PERIOD]
//	invites-plugin keys list HOST
//	invites-plugin keys delete HOST ID
//
// Run it with --help for the flags.
package main

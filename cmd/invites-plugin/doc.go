// Command invites-plugin is the invites plugin binary.
//
// Started by an XMPP server through hashicorp/go-plugin (see package host), it serves the
// invite API, the ad-hoc commands and redemption over gRPC.
// Run by a person, it manages API keys against the same store:
//
//	invites-plugin keys create HOST [NAME] [--expires DURATION] [--max-ttl DURATION] [--rate N/PERIOD]
//	invites-plugin keys list HOST
//	invites-plugin keys delete HOST ID
//
// Run it with --help for the flags.
package main

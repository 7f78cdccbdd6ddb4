// Command invites-plugin is the invites plugin binary.
//
// Started by an XMPP server through hashicorp/go-plugin (see package host), it serves the
// ad-hoc commands and redemption over gRPC, and the invite API's HTTP exchanges on the
// unix sockets the server hands it (plugin.Serve).
// Run by a person, it manages API keys and invites against the same store:
//
//	invites-plugin keys create HOST [NAME] [--expires DURATION] [--max-ttl DURATION] [--rate N/PERIOD] [--manage]
//	invites-plugin keys list HOST
//	invites-plugin keys delete HOST ID
//	invites-plugin invites create HOST [--ttl D] [--username U] [--max-uses N] [--note TEXT] [--group G]... [--reset USER]
//	invites-plugin invites list HOST [--status S] [--json]
//	invites-plugin invites show HOST ID [--json]
//	invites-plugin invites update HOST ID [--expires TIME|DURATION] [--max-uses N] [--note TEXT] [--json]
//	invites-plugin invites revoke HOST ID
//
// Run it with help (or -h, --help) for the flags, --version for the build.
package main

// Package deploy holds what an operator installs beside the binaries, and the tests
// that hold each artifact to the real tool that reads it:
//
//   - systemd/invites.service, the hardened unit: systemd-analyze verify and security;
//   - etc/xmppd.toml and etc/invites.toml, the configuration the package installs in
//     /etc/invites, and invitesctl, the operator's command line on the service's data;
//   - nginx/ and caddy/, reverse proxies at the site root and under a path prefix:
//     Debian's nginx and caddy run in front of xmppd;
//   - prometheus/, alert and recording rules (promtool check and test rules), and
//     grafana/, a dashboard: every metric they name is one a running server exports;
//   - debian/ and nfpm.yaml, the Debian package scripts/release.sh builds.
//
// The package has no Go code of its own; docs/operator.md is the guide to all of it.
// The tests also build the earlier releases from their tags and check that their data
// directories upgrade (upgrade_test.go).
package deploy

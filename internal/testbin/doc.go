// Package testbin builds this repository's binaries once for the tests of a package
// that run them for real (xmppd with its plugin, the deployment's artifacts): linking
// both takes seconds, starting them a fraction of one.
//
//	var bins = testbin.New("xmppd-e2e-", testbin.XMPPD, testbin.Plugin)
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		bins.Remove()
//		os.Exit(code)
//	}
//
//	dir := bins.Dir(t) // built on first use; xmppd and invites-plugin inside
package testbin

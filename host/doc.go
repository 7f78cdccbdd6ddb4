// Package host is what a Go XMPP server imports to run the invites plugin: [Load]
// starts the invites-plugin binary (plugin.Start), configures it, supervises it, and
// returns a [Plugin] to wire into the server (see Example):
//
//   - HTTP: Mount routes the plugin's paths beside the server's own routes, and
//     MountOperations adds /metrics, /healthz and /readyz.
//   - XMPP: the Plugin is an adhoc.Executor for adhoc.Handler; CheckInvite and
//     RedeemInvite serve pre-authenticated registration (XEP-0445, XEP-0401), and
//     CheckPassword the password policy of every registration; Notify queues the
//     server's events (logins, ends of streams, account changes) for the plugin.
//   - Config.API is the server as the plugin sees it (plugin.HostAPI), and what it
//     can do beyond that (plugin.AccountAdmin, plugin.Messenger) the plugin learns
//     from the interfaces it implements.
//
// A plugin that crashes, hangs or cannot start yet is started again with backoff for
// as long as it takes; meanwhile HTTP answers 503 with Retry-After and calls fail with
// plugin.ErrUnavailable. Its log records reach Config.Logger at their own levels.
package host

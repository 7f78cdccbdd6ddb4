// Package host is what a Go XMPP server imports to run the invites plugin: Load starts
// the invites-plugin binary with hashicorp/go-plugin (gRPC only, automatic mutual TLS),
// configures it, and returns a Plugin to wire into the server.
//
//	p, err := host.Load(ctx, host.Config{
//		PluginPath: "/usr/lib/invites/invites-plugin",
//		Plugin:     plugin.Config{Domains: []string{"example.com"}, DataDir: "/var/lib/invites"},
//		API:        myServer, // plugin.HostAPI: admins, accounts, domains, log
//		Logger:     logger,
//	})
//	defer p.Close()
//	mux.Handle("/invites_api", p.Handler())  // the HTTP invite API
//	// XMPP side: p.Commands / p.Execute (XEP-0050, an adhoc.Executor),
//	// p.CheckInvite / p.RedeemInvite (XEP-0445 pre-authenticated registration).
//
// # Supervision
//
// The plugin's process exit is watched continuously, its health checked every
// Config.HealthInterval, and a call that finds it unreachable triggers a look at once.
// A crashed or hung plugin is restarted at once, later restarts within
// Config.RestartWindow back off exponentially from Config.MinBackoff to
// Config.MaxBackoff; after Config.MaxRestarts the plugin stays down and the log says
// so.
// While it is down the HTTP API answers 503 with Retry-After, commands fail with
// service-unavailable and redemption with plugin.ErrUnavailable.
// Close lets calls in flight finish (up to Config.ShutdownTimeout) and shuts the plugin
// down cleanly.
//
// # Logging
//
// go-plugin's own log and each JSON line the plugin writes to its stderr reach
// Config.Logger at their level, through one hclog-to-slog adapter, with
// logger=invites-plugin.
// The plugin is told (plugin.EnvLogLevel) the least level Config.Logger keeps, so it
// does not write lines that would be dropped; setting that variable in the host's
// environment overrides it.
package host

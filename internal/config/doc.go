// Package config reads the plugin's TOML configuration, the one file that both the
// key command line (invites-plugin keys …) and the plugin served by a host read, so the
// two always agree on hosts and store.
//
// Config only decodes: each table, and each group of top-level keys, is the type of the
// component it configures, which documents its keys, fills its defaults and checks
// them in one place (as Caddy's modules do):
//
//	data_dir, store, durability               store.Config
//	retention, default_ttl, max_ttl,          core.Policy
//	landing_page, allow_user_invites,
//	[user_quota], [[host]]
//	[commands]                                commands.Config
//	[[webhook]]                               webhook.Config
//	[page]                                    page.Config
//	[password]                                password.Config
//
// Decoding is strict: an unknown key is an error naming it. Errors of a table's keys
// are prefixed with the table's name ("page.logo_url: …"), and say what the key
// accepts, with durations in words ("2 days"). The environment variable INVITES_STORE,
// when set, overrides the store; file names of [page] that are not absolute are read
// from the config file's directory ([Config.Dir]).
//
// Every key, its type, default, bounds and purpose is listed in docs/configuration.md,
// which the generator in ./gen makes from these types' field comments (go generate);
// its test fails when the file and the code differ, and a field comment that states a
// default the code does not fill.
package config

//go:generate go run ./gen -o ../../docs/configuration.md

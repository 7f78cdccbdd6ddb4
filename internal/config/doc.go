// Package config reads the plugin's TOML configuration, the one file that both the
// key command line (invites-plugin keys …) and the plugin served by a host read, so the
// two always agree on hosts and store.
//
// Decoding is strict: an unknown key is an error, not a silent typo.
// Zero values mean the documented defaults, filled in by [Config.Normalize] in one place.
// The environment variable INVITES_STORE, when set, overrides the store.
//
// An example with every key:
//
//	data_dir = "/var/lib/invites"          # default "./data"
//	store = "postgres://invites@db/invites" # default: SQLite file DATA_DIR/invites.db
//	default_ttl = "7d"                     # invite lifetime when a request names none
//	max_ttl = "90d"                        # longest lifetime a request may ask for
//	landing_page = "https://{host}/invite?{token}"
//
//	[[host]]
//	domain = "example.com"
//	landing_page = "https://example.com/invite/{token}/"
//	default_ttl = "3d"
//
//	[http]
//	max_body_bytes = 65536
//	failed_auth_rate = "20/m"
//	trusted_proxies = ["127.0.0.1", "10.0.0.0/8"]
//
//	[commands]
//	session_timeout = "10m"
//	max_sessions = 8
package config

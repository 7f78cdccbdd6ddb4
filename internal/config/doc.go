// Package config reads the plugin's TOML configuration, the one file that both the
// key command line (invites-plugin keys …) and the plugin served by a host read, so the
// two always agree on hosts and store.
//
// Decoding is strict: an unknown key is an error, not a silent typo; so is a landing
// page with an unknown placeholder, a store address that is neither a file path nor a
// PostgreSQL address, an invite lifetime under a minute, or a page language that is
// not a BCP 47 tag. Errors name the key and what it accepts, with durations in words
// ("2 days").
// Zero values mean the documented defaults, filled in by [Config.Normalize] in one place.
// The environment variable INVITES_STORE, when set, overrides the store.
//
// An example with every key:
//
//	data_dir = "/var/lib/invites"          # default "./data"
//	store = "postgres://invites@db/invites" # default: SQLite file DATA_DIR/invites.db
//	durability = "power-loss"              # SQLite: "power-loss" (default) or "crash"
//	retention = "30d"                      # how long ended invites stay as records
//	default_ttl = "7d"                     # invite lifetime when a request names none
//	max_ttl = "90d"                        # longest lifetime a request may ask for
//	landing_page = "https://{host}/invite?{token}" # or "builtin", the plugin's own page
//	allow_user_invites = false             # users' contact invites may register accounts
//
//	[user_quota]                           # each user's invites; admins have none
//	invites = 10                           # per period; -1: no bound
//	period = "7d"
//	outstanding = 5                        # pending at once; -1: no bound
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
//
//	[page]                                 # the built-in page (landing_page = "builtin")
//	site_name = "Example Chat"             # default: the invite's host
//	logo_url = "/logo.svg"                 # or https://…
//	clients_file = "clients.json"          # default: the built-in client list
//	languages = ["en", "de", "fr"]         # the first is the default
//	templates_dir = "page"                 # files replacing the built-in templates
//	csrf_key_file = "csrf.key"             # shared by every node; default: random per process
//	login_note = "Server: example.com, port 5222."
//	failed_attempt_rate = "10/10m"         # per client address, or "off"
//
//	[password]                             # every registration path
//	min_length = 8
//	min_distinct = 5                       # different characters
//	allow_username = false                 # may a password contain the username?
//	allow_common = false                   # may it be one of 10,000 common passwords?
//
// Each component owns its table's type and defaults ([page] is page.Config,
// [password] is password.Config): config decodes the TOML into them and has each
// fill its defaults and check itself, prefixing the errors with the table's name.
// File names of [page] that are not absolute are read from the config file's
// directory; page.Config.Options reads them, at the plugin's start, so that a client
// list or key file it cannot use stops the start with an error naming the key.
package config

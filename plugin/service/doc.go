// Package service is the plugin's serving side: the implementation of plugin.Invites
// that runs in the invites-plugin process.
//
// On Configure it reads the plugin's config (internal/config), opens the store
// (internal/store: SQLite by default, PostgreSQL for several nodes), and builds the
// core (internal/core), the HTTP API (httpapi) and the ad-hoc commands
// (internal/commands) over it.
// It lives apart from package plugin so that an XMPP server importing plugin and host
// does not link the store and its drivers.
package service

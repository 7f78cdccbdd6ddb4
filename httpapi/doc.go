// Package httpapi is the HTTP invite API of invites, a drop-in successor of Prosody's
// mod_invites_api: the Handler that serves it, its wire types, and a Client for Go
// programs.
//
// GET or POST on the base path (/invites_api) creates an account invite for the holder
// of an API key; below it, BASE/invites lists invites and BASE/invites/ID shows,
// changes (a JSON merge patch, RFC 7396) or revokes one. Keys made with --manage also
// see who invited whom (BASE/accounts…, the tree below an account, an invite or a key,
// the chain of inviters, bulk actions with a dry run) and decide on pending accounts.
// Errors are problem details (RFC 9457) for clients that accept JSON, short text
// otherwise; every answer carries the CORS headers (Fetch standard) and
// Cache-Control: no-store.
// openapi.yaml beside this file describes the API in OpenAPI 3.1; docs/http-api.md,
// generated from it, describes it for people, with curl.
//
// # Client
//
//	c, err := httpapi.NewClient("https://chat.example/invites_api", key, nil)
//	inv, err := c.Create(ctx, httpapi.CreateParams{Note: "for Juliet", Groups: []string{"family"}})
//	fmt.Println(inv.LandingPage, inv.URI)
//
// A refusal comes back as an *Error: errors.Is(err, ErrNotFound) and the other
// sentinels, or errors.As for the status, the refusals field by field and Retry-After.
//
// # Handler
//
// New serves the API over a Service, what it needs of the core; the plugin mounts it
// at plugin.PathAPI, with the Options its Config (the http table of the plugin's config) gives.
// It knows nothing of go-plugin or the process boundary.
package httpapi

//go:generate go run ./internal/apidoc

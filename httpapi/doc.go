// Package httpapi is the HTTP invite API (a drop-in successor of Prosody's
// mod_invites_api): the Handler that serves it, its wire types, and a Client for Go
// programs.
// openapi.yaml beside this file describes it in OpenAPI 3.1, and docs/http-api.md,
// generated from it, for people:
//
//	c, err := httpapi.NewClient("https://chat.example/invites_api", key, nil)
//	inv, err := c.Create(ctx, httpapi.CreateParams{Note: "for Juliet", Groups: []string{"family"}})
//	fmt.Println(inv.LandingPage, inv.URI)
package httpapi

//go:generate go run ./internal/apidoc

package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/httpapi"
)

// TestMain runs the Examples only against a server: INVITES_URL and INVITES_KEY.
func TestMain(m *testing.M) {
	if os.Getenv("INVITES_URL") == "" || os.Getenv("INVITES_KEY") == "" {
		fmt.Println("skipped: set INVITES_URL and INVITES_KEY to run the examples against a server")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// client is a client of the server the environment names.
func client() *httpapi.Client {
	c, err := httpapi.NewClient(os.Getenv("INVITES_URL"), os.Getenv("INVITES_KEY"), nil)
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// Example creates an invite for two accounts, with a note and a group.
func Example() {
	ctx := context.Background()
	c := client()
	two := 2
	inv, err := c.Create(ctx, httpapi.CreateParams{MaxUses: &two, Note: "spring course", Groups: []string{"students"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(inv.Status, inv.MaxUses, inv.Note, inv.Groups)
	fmt.Println(strings.HasPrefix(inv.URI, "xmpp:"), strings.Contains(inv.URI, ";preauth="+inv.Token))
	// Output:
	// pending 2 spring course [students]
	// true true
}

// Example_list finds a new invite among the pending ones, page after page.
func Example_list() {
	ctx := context.Background()
	c := client()
	inv, err := c.Create(ctx, httpapi.CreateParams{Note: "to be listed"})
	if err != nil {
		log.Fatal(err)
	}
	found := false
	for p, err := range c.Invites(ctx, httpapi.ListParams{Status: "pending", Limit: 10}) {
		if err != nil {
			log.Fatal(err)
		}
		if p.ID == inv.ID {
			found = true
			fmt.Println(p.Note, p.Token == "")
		}
	}
	fmt.Println(found)
	// Output:
	// to be listed true
	// true
}

// Example_update gives an invite two more weeks and removes its note.
func Example_update() {
	ctx := context.Background()
	c := client()
	inv, err := c.Create(ctx, httpapi.CreateParams{TTL: 7 * 24 * time.Hour, Note: "short"})
	if err != nil {
		log.Fatal(err)
	}
	none := ""
	later, err := c.Update(ctx, inv.ID, httpapi.Patch{ExpiresAt: inv.ExpiresAt.Add(14 * 24 * time.Hour), Note: &none})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(later.ExpiresAt.Sub(later.CreatedAt).Hours()/24, "days", later.Note == "")
	// Output:
	// 21 days true
}

// Example_revoke revokes an invite; it stays listed, revoked.
func Example_revoke() {
	ctx := context.Background()
	c := client()
	inv, err := c.Create(ctx, httpapi.CreateParams{})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Revoke(ctx, inv.ID); err != nil {
		log.Fatal(err)
	}
	shown, err := c.Show(ctx, inv.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(shown.Status, !shown.RevokedAt.IsZero())
	// Output:
	// revoked true
}

// Example_errors tells the API's refusals apart: each field refused, and the
// sentinels.
func Example_errors() {
	ctx := context.Background()
	c := client()
	_, err := c.Create(ctx, httpapi.CreateParams{TTL: 30 * time.Second, MaxUses: new(int), Username: "juliet"})
	var e *httpapi.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status)
		for _, fe := range e.Errors {
			fmt.Println(fe.Field)
		}
	}
	_, err = c.Show(ctx, "AAAAAAAAAAAA")
	fmt.Println(errors.Is(err, httpapi.ErrNotFound))
	// Output:
	// 400
	// ttl
	// max_uses
	// true
}

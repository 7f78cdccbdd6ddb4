package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/xmpp-invites/invites/httpapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Getenv("INVITES_URL"), os.Getenv("INVITES_KEY")); err != nil {
		fmt.Fprintln(os.Stderr, "apiclient:", err)
		os.Exit(1)
	}
}

// run goes through an invite's life with the API at apiURL and the key, telling out
// what happens.
func run(ctx context.Context, out io.Writer, apiURL, key string) error {
	if apiURL == "" || key == "" {
		return errors.New("set INVITES_URL (such as http://127.0.0.1:5280/invites_api) and INVITES_KEY (an API key, ID/SECRET)")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := httpapi.NewClient(apiURL, key, nil)
	if err != nil {
		return err
	}

	two := 2
	inv, err := c.Create(ctx, httpapi.CreateParams{TTL: 7 * 24 * time.Hour, MaxUses: &two,
		Note: "spring course", Groups: []string{"students"}})
	if err != nil {
		return err
	}
	link := inv.LandingPage
	if link == "" {
		link = inv.URI
	}
	fmt.Fprintf(out, "created %s: %s, for %d accounts, note %q, groups %v, lives %s\n",
		inv.ID, inv.Status, inv.MaxUses, inv.Note, inv.Groups, days(inv.ExpiresAt.Sub(inv.CreatedAt)))
	fmt.Fprintf(out, "its link: %s\n", link)

	listed := false
	for p, err := range c.Invites(ctx, httpapi.ListParams{Status: "pending"}) {
		if err != nil {
			return err
		}
		listed = listed || p.ID == inv.ID
	}
	fmt.Fprintf(out, "among the pending: %v\n", listed)

	shown, err := c.Show(ctx, inv.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "shown: %s, %d of %d uses\n", shown.Status, shown.Uses, shown.MaxUses)

	later, err := c.Update(ctx, inv.ID, httpapi.Patch{ExpiresAt: shown.ExpiresAt.Add(14 * 24 * time.Hour)})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "extended: lives %s\n", days(later.ExpiresAt.Sub(later.CreatedAt)))

	if err := c.Revoke(ctx, inv.ID); err != nil {
		return err
	}
	if shown, err = c.Show(ctx, inv.ID); err != nil {
		return err
	}
	fmt.Fprintf(out, "revoked: %s\n", shown.Status)
	return nil
}

// days writes a lifetime in days.
func days(d time.Duration) string { return fmt.Sprintf("%g days", d.Hours()/24) }

package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// Example mounts the invite API in a plain net/http server, at the path
// mod_invites_api used, and creates an invite with a fresh API key.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "invites-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := sqlite.Open(ctx, filepath.Join(dir, "invites.db"), sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	svc, err := core.NewService(core.Options{
		Store: st,
		Hosts: []core.HostConfig{{Domain: "example.com"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	_, key, err := svc.CreateKey(ctx, core.KeySpec{Host: "example.com", Name: "example"})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/invites_api", httpapi.New(svc, httpapi.Options{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/invites_api?ttl=48h", nil)
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := srv.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()

	location := resp.Header.Get("Location")
	prefix, token, _ := strings.Cut(location, "preauth=")
	fmt.Println(resp.Status)
	fmt.Println(prefix + "preauth=…")
	fmt.Println(len(token), "characters of token")
	// Output:
	// 201 Created
	// xmpp:example.com?register;preauth=…
	// 36 characters of token
}

// ExampleClient creates an invite for a course with a note and a group, finds it among
// the pending ones, gives it two more weeks and revokes it.
func ExampleClient() {
	ctx := context.Background()
	apiURL, key, stop := exampleServer() // a server with the API at apiURL, and a key of it
	defer stop()

	c, err := httpapi.NewClient(apiURL, key, nil)
	if err != nil {
		log.Fatal(err)
	}
	two := 2
	inv, err := c.Create(ctx, httpapi.CreateParams{TTL: 7 * 24 * time.Hour, MaxUses: &two,
		Note: "spring course", Groups: []string{"students"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(inv.Status, inv.Note, inv.Groups, strings.HasPrefix(inv.URI, "xmpp:example.com?register;preauth="))

	for pending, err := range c.Invites(ctx, httpapi.ListParams{Status: "pending"}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("pending:", pending.ID == inv.ID, pending.Note)
	}

	later, err := c.Update(ctx, inv.ID, httpapi.Patch{ExpiresAt: inv.ExpiresAt.Add(14 * 24 * time.Hour)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("lives", later.ExpiresAt.Sub(later.CreatedAt).Hours()/24, "days")

	if err := c.Revoke(ctx, inv.ID); err != nil {
		log.Fatal(err)
	}
	shown, err := c.Show(ctx, inv.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(shown.Status)
	// Output:
	// pending spring course [students] true
	// pending: true spring course
	// lives 21 days
	// revoked
}

// ExampleError tells a refusal from a failure: the API's answers are *Error values,
// matched with errors.Is or read with errors.As.
func ExampleError() {
	ctx := context.Background()
	apiURL, key, stop := exampleServer()
	defer stop()
	c, err := httpapi.NewClient(apiURL, key, nil)
	if err != nil {
		log.Fatal(err)
	}

	_, err = c.Show(ctx, "AAAAAAAAAAAA")
	fmt.Println(errors.Is(err, httpapi.ErrNotFound))

	_, err = c.Create(ctx, httpapi.CreateParams{TTL: 100 * 24 * time.Hour, Note: "line\nbreak"})
	var e *httpapi.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status)
		for _, fe := range e.Errors {
			fmt.Printf("%s: %s\n", fe.Field, fe.Detail)
		}
	}
	// Output:
	// true
	// 400
	// ttl: a lifetime of 100 days is longer than the maximum of 90 days
	// note: the note contains the control character U+000A; line breaks, control and bidirectional formatting characters are not allowed
}

// exampleServer serves the API over a fresh store for the host example.com, and
// returns its URL, an API key and a function that stops it all.
func exampleServer() (apiURL, key string, stop func()) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "invites-example")
	if err != nil {
		log.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "invites.db"), sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}}})
	if err != nil {
		log.Fatal(err)
	}
	if _, key, err = svc.CreateKey(ctx, core.KeySpec{Host: "example.com", Name: "example"}); err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	api := httpapi.New(svc, httpapi.Options{})
	mux.Handle(httpapi.DefaultBasePath, api)
	mux.Handle(httpapi.DefaultBasePath+"/", api)
	srv := httptest.NewServer(mux)
	return srv.URL + httpapi.DefaultBasePath, key, func() {
		srv.Close()
		_ = st.Close()
		_ = os.RemoveAll(dir)
	}
}

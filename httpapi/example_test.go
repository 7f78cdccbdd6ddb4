package httpapi_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

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

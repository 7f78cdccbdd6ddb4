package page_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/page"
)

// oneInvite is the smallest Invites and Registrar: one account invite, used once.
type oneInvite struct {
	token string
	used  bool
}

func (o *oneInvite) Invite(_ context.Context, token string) (page.Invite, error) {
	if token != o.token || o.used {
		return page.Invite{}, page.ErrInviteDead
	}
	return page.Invite{
		Host:      "example.org",
		Kind:      core.KindAccount,
		ExpiresAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		URI:       "xmpp:example.org?register;preauth=" + token,
	}, nil
}

func (o *oneInvite) Register(_ context.Context, r page.Registration) (page.Account, error) {
	if r.Token != o.token || o.used {
		return page.Account{}, page.ErrInviteDead
	}
	o.used = true
	return page.Account{JID: r.Username + "@" + r.Host}, nil
}

// Example mounts the page on a mux, as a host does with the contract's paths, and asks
// for an invite the way a Conversations-family client does: HEAD, then the first Link.
func Example() {
	inv := &oneInvite{token: "AZrT0kq9bXw2mP7vLc4sNf8hYd1eJg6uQa3o"}
	h, err := page.New(inv, inv, page.Options{
		SiteName: "Example Chat",
		BaseURL:  "https://chat.example.org",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle(page.PathInvite, h)
	mux.Handle(page.PathRegister, h)

	for _, token := range []string{inv.token, "AZrT0kq9bXw2mP7vLc4sNf8hYd1eJgUNKNOWN"} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodHead, "https://chat.example.org/invite?"+token, nil))
		fmt.Println(w.Code, w.Header().Get("Link"))
	}
	// Output:
	// 200 <xmpp:example.org?register;preauth=AZrT0kq9bXw2mP7vLc4sNf8hYd1eJg6uQa3o>; rel="alternate"
	// 404
}

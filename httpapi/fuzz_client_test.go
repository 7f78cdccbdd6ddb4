package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/xmpp-invites/invites/httpapi"
)

// FuzzClient gives the Client arbitrary answers from a server on loopback: any status,
// Content-Type, Retry-After and body, to each of its methods.
// Whatever the answer: no panic; a success decodes or fails with an error saying so;
// anything else is an *Error with that status, a bounded, valid UTF-8 detail, and a
// Retry-After that is never negative.
func FuzzClient(f *testing.F) {
	var (
		mu     sync.Mutex
		status int
		ctype  string
		retry  string
		body   string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		if retry != "" {
			w.Header().Set("Retry-After", retry)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	c, err := httpapi.NewClient(srv.URL+"/invites_api", strings.Repeat("A", 12)+"/"+strings.Repeat("B", 36), srv.Client())
	if err != nil {
		f.Fatal(err)
	}
	types := []string{"", "application/json", "application/problem+json", "text/plain; charset=utf-8", "text/html", "application/problem+json; charset=utf-8"}
	calls := []func(context.Context) error{
		func(ctx context.Context) error { _, err := c.Create(ctx, httpapi.CreateParams{Note: "x"}); return err },
		func(ctx context.Context) error { _, err := c.List(ctx, httpapi.ListParams{}); return err },
		func(ctx context.Context) error { _, err := c.Show(ctx, "AAAAAAAAAAAA"); return err },
		func(ctx context.Context) error { _, err := c.Update(ctx, "AAAAAAAAAAAA", httpapi.Patch{}); return err },
		func(ctx context.Context) error { return c.Revoke(ctx, "AAAAAAAAAAAA") },
	}
	successes := []int{201, 200, 200, 200, 204}

	f.Fuzz(func(t *testing.T, code uint16, sel uint8, retryAfter, answer string) {
		mu.Lock()
		status = 200 + int(code)%400 // 200 to 599: net/http refuses to write others
		if status >= 300 && status < 400 {
			status += 100 // no redirect to follow
		}
		ctype, retry, body = types[int(sel)%len(types)], strings.Map(headerSafe, retryAfter), answer
		mu.Unlock()
		i := int(sel>>4) % len(calls)
		err := calls[i](t.Context())
		var e *httpapi.Error
		switch {
		case status == successes[i] || (i == 0 && status == 303):
			if errors.As(err, &e) {
				t.Fatalf("a %d answered an *Error %v", status, e)
			}
		case !errors.As(err, &e):
			t.Fatalf("a %d answered %v, not an *Error", status, err)
		case e.Status != status || !bounded(e.Detail) || len(e.Errors) > 32 || e.RetryAfter < 0:
			t.Fatalf("a %d answered %#v", status, e)
		}
		if e != nil {
			for _, fe := range e.Errors {
				if !bounded(fe.Field) || !bounded(fe.Detail) {
					t.Fatalf("a %d answered the refusal %#v", status, fe)
				}
			}
		}
	})
}

// bounded reports whether a text of an answer is valid UTF-8 of at most 1 KiB.
func bounded(s string) bool { return utf8.ValidString(s) && len(s) <= 1024+len("…") }

// headerSafe keeps a rune a header value may hold.
func headerSafe(r rune) rune {
	if r < ' ' || r == 0x7f || r >= utf8.RuneSelf {
		return -1
	}
	return r
}

package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/httpapi"
)

// FuzzHandler throws arbitrary query strings, Authorization headers and form bodies at
// the handler over a real store.
// In every input, "KEY" stands for a valid key and "LANDING" for a key of a host with a
// landing page, so that the fuzzer reaches the paths that create invites.
// Whatever the input: no panic, no 500, only statuses the API documents, the headers
// every response carries, and an invite stored exactly when one is announced.
func FuzzHandler(f *testing.F) {
	fx := newFixture(f)
	h := httpapi.New(fx.svc, httpapi.Options{
		MaxBodyBytes:   4096,
		FailedAuthRate: core.Rate{N: -1}, // off: the table test covers it, here it would answer 429 to all
	})
	replace := strings.NewReplacer("KEY", fx.creds["good"], "LANDING", fx.creds["landing"])
	allowed := map[int]bool{201: true, 204: true, 303: true, 400: true, 403: true, 405: true,
		413: true, 414: true, 415: true, 429: true, 431: true}
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPost, http.MethodOptions,
		http.MethodGet, http.MethodPut, http.MethodHead, "GET "}

	f.Fuzz(func(t *testing.T, query, auth, body string, sel uint8) {
		query, auth, body = replace.Replace(query), replace.Replace(auth), replace.Replace(body)
		method := methods[sel%8]
		r := &http.Request{
			Method:     method,
			URL:        &url.URL{Path: "/invites_api", RawQuery: query},
			RequestURI: "/invites_api?" + query,
			Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:     http.Header{},
			Host:       "example.com",
			RemoteAddr: "192.0.2.1:1234",
			Body:       http.NoBody,
		}
		if auth != "" {
			r.Header["Authorization"] = []string{auth}
		}
		if body != "" {
			r.Body = readCloser{strings.NewReader(body)}
			r.ContentLength = int64(len(body))
			if sel&32 != 0 {
				r.ContentLength = -1
			}
		}
		if sel&8 == 0 {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if sel&16 != 0 {
			r.Header.Set("Accept", "application/json")
		}
		r = r.WithContext(context.Background())

		before := fx.st.invites.Load()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		stored := fx.st.invites.Load() - before

		if !allowed[rec.Code] {
			t.Fatalf("status %d for %s ?%q Authorization %q body %q; body %q", rec.Code, method, query, auth, body, rec.Body)
		}
		if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("status %d without the common headers: %v", rec.Code, rec.Header())
		}
		created := rec.Code == 201 || rec.Code == 303
		if created != (stored == 1) || stored > 1 {
			t.Fatalf("status %d but %d invites stored", rec.Code, stored)
		}
		loc := rec.Header().Get("Location")
		if created && !(strings.HasPrefix(loc, "xmpp:") && strings.Contains(loc, "?register;preauth=") ||
			strings.HasPrefix(loc, landingPage)) {
			t.Fatalf("status %d with Location %q", rec.Code, loc)
		}
		if !created && loc != "" {
			t.Fatalf("status %d with Location %q", rec.Code, loc)
		}
		if rec.Code >= 400 {
			if rec.Body.Len() == 0 || rec.Body.Len() > 1024 {
				t.Fatalf("status %d with a body of %d bytes", rec.Code, rec.Body.Len())
			}
			if rec.Header().Get("Content-Type") == "application/problem+json" {
				var p problem
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code {
					t.Fatalf("problem %q: %v", rec.Body, err)
				}
			}
			for _, s := range fx.secrets() {
				if strings.Contains(rec.Body.String(), s) {
					t.Fatalf("error body repeats a secret: %q", rec.Body)
				}
			}
		}
	})
}

// readCloser gives a reader a no-op Close.
type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

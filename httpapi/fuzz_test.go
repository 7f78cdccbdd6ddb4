package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/httpapi"
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
		MaxBodyBytes:    4096,
		FailedAuthCount: -1, // off: the table test covers it, here it would answer 429 to all
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
			// Bounded however many refusals: each is short (echoes are clipped), at
			// most 32 are listed, and the detail joining them is cut.
			if rec.Body.Len() == 0 || rec.Body.Len() > 8192 {
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

// FuzzLifecycle throws arbitrary paths below the API, query strings, methods, content
// types and bodies (merge patches) at the lifecycle endpoints over a real store.
// "KEY" stands for a valid key, "TEAM" for the ID of one of its invites, "OTHER" for
// the ID of another key's invite.
// Whatever the input: no panic, no 500, only statuses the API documents, the headers
// every response carries, JSON that decodes on success, and the other key's invite
// never shown nor changed.
func FuzzLifecycle(f *testing.F) {
	lf := newLifecycleFixture(f)
	h := httpapi.New(lf.svc, httpapi.Options{MaxBodyBytes: 4096, FailedAuthCount: -1})
	ctx := context.Background()
	other, err := lf.st.Invite(ctx, lf.ids["other"])
	if err != nil {
		f.Fatal(err)
	}
	replace := strings.NewReplacer("KEY", lf.creds["good"], "TEAM", lf.ids["team"], "OTHER", lf.ids["other"])
	allowed := map[int]bool{200: true, 201: true, 204: true, 303: true, 400: true, 403: true, 404: true, 405: true,
		409: true, 413: true, 414: true, 415: true, 431: true}
	methods := []string{http.MethodGet, http.MethodPatch, http.MethodDelete, http.MethodOptions,
		http.MethodGet, http.MethodPatch, http.MethodPost, http.MethodPut}
	types := []string{"application/merge-patch+json", "application/json", "application/json; charset=utf-8", "", "text/plain",
		"application/merge-patch+json;", "application/x-www-form-urlencoded", "APPLICATION/JSON"}

	f.Fuzz(func(t *testing.T, path, query, body string, sel uint8) {
		path, query, body = replace.Replace(path), replace.Replace(query), replace.Replace(body)
		method := methods[sel%8]
		u, err := url.Parse("/invites_api" + path)
		if err != nil || u.RawQuery != "" || u.Fragment != "" {
			return // not a path
		}
		u.RawQuery = query
		r := &http.Request{
			Method:     method,
			URL:        u,
			RequestURI: u.RequestURI(),
			Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:     http.Header{"Authorization": {"Bearer " + lf.creds["good"]}},
			Host:       "example.com",
			RemoteAddr: "192.0.2.1:1234",
			Body:       http.NoBody,
		}
		if sel&64 != 0 {
			delete(r.Header, "Authorization") // the key, if any, from the query
		}
		if body != "" {
			r.Body = readCloser{strings.NewReader(body)}
			r.ContentLength = int64(len(body))
			if sel&128 != 0 {
				r.ContentLength = -1
			}
		}
		if ct := types[(sel>>3)%8]; ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		r = r.WithContext(ctx)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)

		if !allowed[rec.Code] {
			t.Fatalf("status %d for %s %s ?%q body %q; body %q", rec.Code, method, path, query, body, rec.Body)
		}
		if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("status %d without the common headers: %v", rec.Code, rec.Header())
		}
		if rec.Code == 200 {
			var v map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Fatalf("200 with a body that is not JSON: %q", rec.Body)
			}
			if strings.Contains(rec.Body.String(), lf.ids["other"]) {
				t.Fatalf("another key's invite shown: %s", rec.Body)
			}
		}
		if rec.Code >= 400 && (rec.Body.Len() == 0 || rec.Body.Len() > 8192) {
			t.Fatalf("status %d with a body of %d bytes", rec.Code, rec.Body.Len())
		}
		now, err := lf.st.Invite(ctx, lf.ids["other"])
		if err != nil || now.Note != other.Note || !now.ExpiresAt.Equal(other.ExpiresAt) || now.MaxUses != other.MaxUses || !now.RevokedAt.IsZero() {
			t.Fatalf("another key's invite changed: %+v (was %+v) %v", now, other, err)
		}
	})
}

// FuzzAccounts throws arbitrary paths below the API, query strings, methods and bodies
// at the account endpoints (issue 24) with a managing key, over a real store holding a
// tree of depth 8. "ROOT" stands for the tree's root account, "INV" for one of its
// invites. Whatever the input: no panic, no 500, only statuses the API documents, JSON
// that decodes on success, and error bodies of bounded size.
func FuzzAccounts(f *testing.F) {
	af := newAccountsFixtureTB(f)
	replace := strings.NewReplacer("ROOT", "root%40example.com", "INV", af.built.Children[0].ID)
	allowed := map[int]bool{200: true, 204: true, 400: true, 404: true, 405: true, 409: true, 413: true, 414: true, 415: true, 431: true}
	methods := []string{http.MethodGet, http.MethodPost, http.MethodOptions, http.MethodDelete}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, path, query, body string, sel uint8) {
		path, query = replace.Replace(path), replace.Replace(query)
		u, err := url.Parse("/invites_api" + path)
		if err != nil || u.RawQuery != "" || u.Fragment != "" || !strings.HasPrefix(u.Path, "/invites_api/") {
			return // not a path below the API (creation is FuzzHandler's)
		}
		u.RawQuery = query
		method := methods[sel%4]
		r := &http.Request{
			Method:     method,
			URL:        u,
			RequestURI: u.RequestURI(),
			Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:     http.Header{"Authorization": {"Bearer " + af.manage}},
			Host:       "example.com",
			RemoteAddr: "192.0.2.1:1234",
			Body:       http.NoBody,
		}
		if body != "" {
			r.Body = readCloser{strings.NewReader(body)}
			r.ContentLength = int64(len(body))
			if sel&4 == 0 {
				r.Header.Set("Content-Type", "application/json")
			}
		}
		r = r.WithContext(ctx)
		rec := httptest.NewRecorder()
		af.h.ServeHTTP(rec, r)
		if !allowed[rec.Code] {
			t.Fatalf("status %d for %s %s ?%q body %q; body %q", rec.Code, method, path, query, body, rec.Body)
		}
		if rec.Code == 200 {
			var v any
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Fatalf("200 with a body that is not JSON: %q", rec.Body)
			}
		}
		if rec.Code >= 400 && (rec.Body.Len() == 0 || rec.Body.Len() > 8192) {
			t.Fatalf("status %d with a body of %d bytes", rec.Code, rec.Body.Len())
		}
	})
}

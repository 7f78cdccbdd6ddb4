package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/httpapi"
)

var _ error = (*httpapi.Error)(nil)

// TestWriteError: problem details for a client that accepts JSON (decoding into
// httpapi.Problem, nothing left over), a line of text otherwise; the headers every
// error answer carries; bounds on what is quoted.
func TestWriteError(t *testing.T) {
	for i, tc := range []struct {
		accept    string
		e         httpapi.Error
		wantType  string
		wantText  string          // the text body, exactly
		wantJSON  httpapi.Problem // the JSON body, exactly
		wantRetry string
	}{
		0: {accept: "application/json", e: httpapi.Error{Status: 503, Detail: `say "hi" \ é`, RetryAfter: 1500 * time.Millisecond},
			wantType: "application/problem+json", wantRetry: "2",
			wantJSON: httpapi.Problem{Type: "about:blank", Title: "Service Unavailable", Status: 503, Detail: `say "hi" \ é`}},
		1: {e: httpapi.Error{Status: 413, Detail: "too big"}, wantType: "text/plain; charset=utf-8", wantText: "too big\n"},
		2: {accept: "text/html, application/problem+json;q=0.5", e: httpapi.Error{Status: 404}, wantType: "application/problem+json",
			wantJSON: httpapi.Problem{Type: "about:blank", Title: "Not Found", Status: 404}},
		3: {accept: "application/json;q=0", e: httpapi.Error{Status: 404}, wantType: "text/plain; charset=utf-8", wantText: "not found\n"},
		4: {accept: "*/*", e: httpapi.Error{Status: 400, Detail: strings.Repeat("é", 1000)}, wantType: "text/plain; charset=utf-8",
			wantText: strings.Repeat("é", 512) + "…\n"},
		5: {accept: "application/json", e: httpapi.Error{Status: 400, Detail: "ttl: too long; note: bad",
			Errors: []httpapi.FieldError{{Field: "ttl", Detail: "too long"}, {Field: "note", Detail: "bad"}, {Detail: "revoked"}}},
			wantType: "application/problem+json",
			wantJSON: httpapi.Problem{Type: "about:blank", Title: "Bad Request", Status: 400, Detail: "ttl: too long; note: bad",
				Errors: []httpapi.FieldError{{Field: "ttl", Detail: "too long"}, {Field: "note", Detail: "bad"}, {Detail: "revoked"}}}},
		6: {e: httpapi.Error{Status: 400, Detail: "ttl: too long; note: bad", Errors: []httpapi.FieldError{{Field: "ttl", Detail: "too long"}}},
			wantType: "text/plain; charset=utf-8", wantText: "ttl: too long; note: bad\n"},
		7: {accept: "application/json", e: httpapi.Error{Status: 400, Detail: "x",
			Errors: slicesRepeat(httpapi.FieldError{Field: strings.Repeat("f", 100), Detail: "d"}, 40)},
			wantType: "application/problem+json",
			wantJSON: httpapi.Problem{Type: "about:blank", Title: "Bad Request", Status: 400, Detail: "x",
				Errors: slicesRepeat(httpapi.FieldError{Field: strings.Repeat("f", 64) + "…", Detail: "d"}, 32)}},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.accept != "" {
			r.Header.Set("Accept", tc.accept)
		}
		w := httptest.NewRecorder()
		w.Header().Set("Location", "xmpp:x")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		httpapi.WriteError(w, r, &tc.e)
		res := w.Result()
		if res.StatusCode != tc.e.Status || res.Header.Get("Content-Type") != tc.wantType {
			t.Errorf("%d: %d %q", i, res.StatusCode, res.Header.Get("Content-Type"))
		}
		body := w.Body.String()
		if strings.HasPrefix(tc.wantType, "application/") {
			var p httpapi.Problem
			dec := json.NewDecoder(strings.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&p); err != nil {
				t.Errorf("%d: not a Problem: %v: %s", i, err, body)
			}
			if fmt.Sprint(p) != fmt.Sprint(tc.wantJSON) {
				t.Errorf("%d: %+v, want %+v", i, p, tc.wantJSON)
			}
			// The wire type writes back what was read.
			again, _ := json.Marshal(p)
			if !bytes.Equal(append(again, '\n'), []byte(body)) {
				t.Errorf("%d: Problem re-encoded %s, written %s", i, again, body)
			}
		} else if body != tc.wantText {
			t.Errorf("%d: body %q, want %q", i, body, tc.wantText)
		}
		if got := res.Header.Get("Retry-After"); got != tc.wantRetry {
			t.Errorf("%d: Retry-After %q, want %q", i, got, tc.wantRetry)
		}
		if res.Header.Get("Location") != "" || res.Header.Get("Access-Control-Allow-Origin") != "*" ||
			res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%d: header %v", i, res.Header)
		}
		if res.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Errorf("%d: Content-Length %s for %d bytes", i, res.Header.Get("Content-Length"), len(body))
		}
	}
}

func slicesRepeat[T any](v T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestErrorIs: each status matches its sentinel and no other; wrapping keeps it.
func TestErrorIs(t *testing.T) {
	sentinels := []error{httpapi.ErrBadRequest, httpapi.ErrForbidden, httpapi.ErrNotFound, httpapi.ErrConflict,
		httpapi.ErrRateLimited, httpapi.ErrUnavailable}
	for i, tc := range []struct {
		status int
		want   error // nil: none
	}{
		0: {400, httpapi.ErrBadRequest}, 1: {413, httpapi.ErrBadRequest}, 2: {414, httpapi.ErrBadRequest},
		3: {415, httpapi.ErrBadRequest}, 4: {431, httpapi.ErrBadRequest}, 5: {403, httpapi.ErrForbidden},
		6: {404, httpapi.ErrNotFound}, 7: {409, httpapi.ErrConflict}, 8: {429, httpapi.ErrRateLimited},
		9: {503, httpapi.ErrUnavailable}, 10: {405, nil}, 11: {500, nil}, 12: {502, nil},
	} {
		err := fmt.Errorf("showing invite: %w", &httpapi.Error{Status: tc.status})
		for _, s := range sentinels {
			if got := errors.Is(err, s); got != (s == tc.want) {
				t.Errorf("%d: errors.Is(%d, %v) = %v", i, tc.status, s, got)
			}
		}
	}
	e := &httpapi.Error{Status: 404, Detail: "no such invite"}
	if e.Error() != "404 Not Found: no such invite" {
		t.Errorf("Error() = %q", e.Error())
	}
}

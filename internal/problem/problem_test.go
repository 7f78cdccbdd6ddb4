package problem_test

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/problem"
)

func TestWrite(t *testing.T) {
	for i, tc := range []struct {
		accept      string
		d           problem.Details
		wantType    string
		wantBody    string // exact for text, a substring for JSON
		wantRetry   string
		wantLocGone bool
	}{
		0: {"application/json", problem.Details{Status: 503, Detail: `say "hi" \ é`, RetryAfter: 1500 * time.Millisecond},
			"application/problem+json", `"detail":"say \"hi\" \\ é"`, "2", true},
		1: {"", problem.Details{Status: 413, Detail: "too big"}, "text/plain; charset=utf-8", "too big\n", "", true},
		2: {"text/html, application/problem+json;q=0.5", problem.Details{Status: 404}, "application/problem+json", `"title":"Not Found"`, "", true},
		3: {"application/json;q=0", problem.Details{Status: 404}, "text/plain; charset=utf-8", "not found\n", "", true},
		4: {"*/*", problem.Details{Status: 400, Detail: strings.Repeat("é", 1000)}, "text/plain; charset=utf-8", strings.Repeat("é", 512) + "…\n", "", true},
		5: {"application/json", problem.Details{Status: 400, Detail: "ttl: too long; note: bad", Errors: []problem.FieldDetail{{Field: "ttl", Detail: "too long"}, {Field: "note", Detail: "bad"}}},
			"application/problem+json", `"errors":[{"field":"ttl","detail":"too long"},{"field":"note","detail":"bad"}]`, "", true},
		6: {"", problem.Details{Status: 400, Detail: "ttl: too long; note: bad", Errors: []problem.FieldDetail{{Field: "ttl", Detail: "too long"}}},
			"text/plain; charset=utf-8", "ttl: too long; note: bad\n", "", true},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.accept != "" {
			r.Header.Set("Accept", tc.accept)
		}
		w := httptest.NewRecorder()
		w.Header().Set("Location", "xmpp:x")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		problem.Write(w, r, tc.d)
		res := w.Result()
		if res.StatusCode != tc.d.Status || res.Header.Get("Content-Type") != tc.wantType {
			t.Errorf("%d: %d %q", i, res.StatusCode, res.Header.Get("Content-Type"))
		}
		body := w.Body.String()
		if strings.HasPrefix(tc.wantType, "application/") {
			var v map[string]any
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Errorf("%d: not JSON: %v: %s", i, err, body)
			}
			if !strings.Contains(body, tc.wantBody) {
				t.Errorf("%d: body %s lacks %s", i, body, tc.wantBody)
			}
		} else if body != tc.wantBody {
			t.Errorf("%d: body %q, want %q", i, body, tc.wantBody)
		}
		if got := res.Header.Get("Retry-After"); got != tc.wantRetry {
			t.Errorf("%d: Retry-After %q, want %q", i, got, tc.wantRetry)
		}
		if res.Header.Get("Location") != "" || res.Header.Get("Access-Control-Allow-Origin") != "*" ||
			res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%d: header %v", i, res.Header)
		}
		if res.Header.Get("Content-Length") != "" && res.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Errorf("%d: Content-Length %s for %d bytes", i, res.Header.Get("Content-Length"), len(body))
		}
	}
}

package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/httpapi"
)

// TestREADMEKeyAnswers is the regression test of a README claim a newcomer caught out:
// it once said every bad key gets "the same answer" while the bodies differ. Each
// refused key's detail must be one the README's 403 row names, and those that must not
// tell a key's existence (an unknown ID, a wrong secret, a deleted key) must share one.
func TestREADMEKeyAnswers(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for line := range strings.Lines(string(readme)) {
		if strings.HasPrefix(line, "| `403` |") {
			row = line
		}
	}
	if row == "" {
		t.Fatal("the README's API table has no 403 row")
	}
	f := newFixture(t)
	h := httpapi.New(f.svc, httpapi.Options{})
	detail := func(cred string) string {
		req := httptest.NewRequest("POST", "/invites_api", nil)
		req.Header.Set("Accept", "application/json")
		if cred != "" {
			req.Header.Set("Authorization", "Bearer "+cred)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusForbidden {
			t.Fatalf("key %q: status %d", cred, w.Code)
		}
		var p problem
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			t.Fatalf("key %q: %v %s", cred, err, w.Body)
		}
		if !strings.Contains(row, "`"+p.Detail+"`") {
			t.Errorf("the README's 403 row does not name the detail %q", p.Detail)
		}
		return p.Detail
	}
	detail("")
	detail("not-a-key")
	detail(f.creds["expired"])
	same := detail(f.creds["unknown"])
	for _, name := range []string{"wrong", "revoked"} {
		if d := detail(f.creds[name]); d != same {
			t.Errorf("key %s answered %q, an unknown key %q: they must not differ", name, d, same)
		}
	}
}

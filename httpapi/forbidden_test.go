package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"

	"github.com/xmpp-invites/invites/httpapi"
)

// TestDocForbiddenDetails is the regression test of a claim a newcomer caught out: the
// README once said every bad key gets "the same answer" while the bodies differ. Each
// refused key's detail must be one that openapi.yaml's 403 answer names (and so
// docs/http-api.md, made from it), and those that must not tell a key's existence
// (an unknown ID, a wrong secret, a deleted key) must share one.
func TestDocForbiddenDetails(t *testing.T) {
	spec, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	forbidden, ok := m.Model.Components.Responses.Get("Forbidden")
	if !ok {
		t.Fatal("openapi.yaml has no Forbidden response")
	}
	described := forbidden.Description
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
		if !strings.Contains(described, "`"+p.Detail+"`") {
			t.Errorf("openapi.yaml's 403 answer does not name the detail %q:\n%s", p.Detail, described)
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

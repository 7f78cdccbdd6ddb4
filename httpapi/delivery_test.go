package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/core"
)

// TestDelivery checks the API of what invites report back: an invite created with an
// address answers its resource and no token, shows its email and funnel; it can be
// sent again (the token made with it and every earlier link die); lists keep the
// invites expiring soon; every answer matches openapi.yaml.
func TestDelivery(t *testing.T) {
	f := newFixture(t)
	spec := openAPI(t)
	ctx := t.Context()
	h := httpapi.New(f.svc, httpapi.Options{BasePath: "/invites_api", Now: f.clock.Now})
	do := func(method, target, body string) (*http.Response, []byte) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req := httptest.NewRequestWithContext(ctx, method, f.expand(target), rd)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+f.creds["good"])
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		resp := w.Result()
		data, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(data))
		vreq := httptest.NewRequestWithContext(ctx, method, req.URL.Path, nil)
		vreq.Header = req.Header
		if ok, errs := spec.ValidateHttpResponse(vreq, resp); !ok {
			for _, e := range errs {
				t.Errorf("%s %s: openapi.yaml: %s: %s", method, req.URL.Path, e.Message, e.Reason)
			}
		}
		return resp, data
	}
	decode := func(data []byte) invite {
		t.Helper()
		var inv invite
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&inv); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		return inv
	}

	resp, data := do("POST", "/invites_api", "email=friend%40example.org&welcome=Hello%21%0AWelcome.&ttl=3d")
	created := decode(data)
	if resp.StatusCode != 201 || created.Token != "" || created.URI != "" || created.LandingPage != "" ||
		resp.Header.Get("Location") != "/invites_api/invites/"+created.ID {
		t.Fatalf("created with an address: %d, Location %q, %s", resp.StatusCode, resp.Header.Get("Location"), data)
	}
	if e := created.Email; e == nil || e.Address != "friend@example.org" || e.Status != "queued" || created.Welcome != "Hello!\nWelcome." ||
		created.Funnel == nil || *created.Funnel != (core.Funnel{}) {
		t.Errorf("created %+v", created)
	}
	// The funnel as it moves.
	f.svc.CountFunnel(created.ID, core.StagePageOpened)
	f.svc.CountFunnel(created.ID, core.StageRegistrationStarted)
	_, data = do("GET", "/invites_api/invites/"+created.ID, "")
	if got := decode(data); got.Funnel == nil || got.Funnel.PageOpened != 1 || got.Funnel.RegistrationStarted != 1 {
		t.Errorf("shown %s", data)
	}

	// Sent again, to another address: a fresh token, the mail queued again.
	resp, data = do("POST", "/invites_api/invites/"+created.ID+"/resend", "email=other%40example.org")
	if got := decode(data); resp.StatusCode != 202 || got.Email == nil || got.Email.Address != "other@example.org" || got.Email.Status != "queued" {
		t.Errorf("resend: %d %s", resp.StatusCode, data)
	}
	for _, tc := range []struct {
		method, target, body string
		status               int
	}{
		{"POST", "/invites_api/invites/" + created.ID + "/resend", "email=not-an-address", 400},
		{"GET", "/invites_api/invites/" + created.ID + "/resend", "", 405},
		{"POST", "/invites_api/invites/AAAAAAAAAAAA/resend", "", 404},
		{"POST", "/invites_api", "email=friend%40example.org%0D%0ABcc%3A+x%40y", 400},
		{"GET", "/invites_api/invites?expiring_within=soon", "", 400},
		{"GET", "/invites_api/invites?expiring_within=1d&status=used", "", 400},
	} {
		if resp, data := do(tc.method, tc.target, tc.body); resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d: %s", tc.method, tc.target, resp.StatusCode, tc.status, data)
		}
	}
	// A plain invite has no address to send again to.
	resp, data = do("POST", "/invites_api", "ttl=1h")
	plain := decode(data)
	if resp.StatusCode != 201 || plain.Token == "" || plain.Email != nil {
		t.Fatalf("plain: %s", data)
	}
	if resp, data := do("POST", "/invites_api/invites/"+plain.ID+"/resend", ""); resp.StatusCode != 409 {
		t.Errorf("resend without an address: %d %s", resp.StatusCode, data)
	}

	// Expiring soon: the one-hour invite, not the three-day one.
	_, data = do("GET", "/invites_api/invites?"+url.Values{"expiring_within": {"2h"}}.Encode(), "")
	var list inviteList
	if err := json.Unmarshal(data, &list); err != nil || len(list.Invites) != 1 || list.Invites[0].ID != plain.ID {
		t.Errorf("expiring within 2h: %s", data)
	}
	f.clock.Set(f.clock.Now().Add(70 * time.Hour))
	_, data = do("GET", "/invites_api/invites?expiring_within=1d", "")
	if err := json.Unmarshal(data, &list); err != nil || len(list.Invites) != 1 || list.Invites[0].ID != created.ID {
		t.Errorf("expiring within 1d, 70h later: %s", data)
	}
}

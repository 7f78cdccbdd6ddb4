package webhook_test

import (
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/webhook"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// TestConfigNormalize: a [[webhook]] table takes its name from its URL and the
// default timeout; every bad key is refused naming it, never repeating the secret.
func TestConfigNormalize(t *testing.T) {
	for i, tc := range [...]struct {
		in      webhook.Config
		want    webhook.Config
		wantErr []string
	}{
		0: {in: webhook.Config{URL: "https://portal.example/hooks/invites/", Secret: testSecret},
			want: webhook.Config{Name: "portal.example/hooks/invites", URL: "https://portal.example/hooks/invites/", Secret: testSecret,
				Timeout: core.Duration(webhook.DefaultTimeout)}},
		1: {in: webhook.Config{Name: "p", URL: "http://p.example", Secret: testSecret, Events: []string{"invite.created"}, Timeout: core.Duration(time.Minute)},
			want: webhook.Config{Name: "p", URL: "http://p.example", Secret: testSecret, Events: []string{"invite.created"}, Timeout: core.Duration(time.Minute)}},
		2: {in: webhook.Config{URL: "ftp://x", Secret: "whsec_c2hvcnQ=", Events: []string{"invite.made"}, Timeout: core.Duration(time.Hour)},
			wantErr: []string{"url must be an http or https URL", "secret: a webhook secret holds 24 to 64 bytes",
				`unknown event "invite.made": use ` + strings.Join(webhook.Types(), ", "),
				"timeout must be between 1 second and 1 minute"}},
		3: {in: webhook.Config{Name: "a b", URL: "https://x.example"}, wantErr: []string{`name "a b": use at most 64 letters`,
			"a secret is required (make one with: invites-plugin webhooks secret)"}},
	} {
		c := tc.in
		err := c.Normalize()
		if tc.wantErr == nil {
			if err != nil || c.Name != tc.want.Name || c.Timeout != tc.want.Timeout || strings.Join(c.Events, ",") != strings.Join(tc.want.Events, ",") {
				t.Errorf("%d: %+v, %v; want %+v", i, c, err, tc.want)
			}
			continue
		}
		for _, w := range tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%d: err = %v, want %q", i, err, w)
			}
		}
		if err != nil && strings.Contains(err.Error(), "c2hvcnQ") {
			t.Errorf("%d: the error repeats the secret: %v", i, err)
		}
	}
}

// TestNormalizeAll: the tables are checked together, each error naming its table.
func TestNormalizeAll(t *testing.T) {
	ok := webhook.Config{URL: "https://a.example", Secret: testSecret}
	err := webhook.NormalizeAll([]webhook.Config{ok, ok, {URL: "nope", Secret: testSecret}})
	for _, w := range []string{`webhook 2: the name "a.example" is used twice`, "webhook 3: url must be an http or https URL"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("err = %v, want %q", err, w)
		}
	}
	many := make([]webhook.Config, webhook.MaxEndpoints+1)
	for i := range many {
		many[i] = webhook.Config{Name: "w" + strings.Repeat("x", i), URL: "https://a.example", Secret: testSecret}
	}
	if err := webhook.NormalizeAll(many); err == nil || !strings.Contains(err.Error(), "at most 16 [[webhook]] tables") {
		t.Errorf("17 tables: %v", err)
	}
	cs := []webhook.Config{{URL: "https://a.example/h", Secret: testSecret, Events: []string{"account.created"}}}
	if err := webhook.NormalizeAll(cs); err != nil {
		t.Fatal(err)
	}
	es, err := webhook.Endpoints(cs)
	if err != nil || len(es) != 1 {
		t.Fatalf("endpoints %+v, %v", es, err)
	}
	e := es[0]
	if err != nil || e.Name != "a.example/h" || e.Timeout != webhook.DefaultTimeout || len(e.Key) != 24 || e.Types[0] != "account.created" {
		t.Errorf("endpoint %+v, %v", e, err)
	}
}

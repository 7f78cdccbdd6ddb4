package config_test

import (
	"testing"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/webhook"
)

// FuzzParse feeds the TOML reader: it fails or yields a config that Normalize either
// rejects or fills; it never panics, and a normalized config always has a store, hosts
// and webhook endpoints the worker takes.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"data_dir = \"/x\"\ndefault_ttl = \"2d\"\n",
		"[[host]]\ndomain = \"example.com\"\nlanding_page = \"https://{host}/i?{token}\"\n",
		"[http]\nmax_body_bytes = 1\nfailed_auth_rate = \"1/s\"\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
		"[commands]\nsession_timeout = \"1m\"\nmax_sessions = 3\n",
		"default_ttl = 3600",
		"[[host]]\n[[host]]\n",
		"store = \"postgres://x\"\n",
		"[[webhook]]\nurl = \"https://h.example/x\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nevents = [\"invite.created\"]\ntimeout = \"5s\"\n",
		"[user_quota]\ninvites = -1\nperiod = 3600\noutstanding = 2\n",
		"landing_page = \"builtin\"\n[page]\nsite_name = \"x\"\nlanguages = [\"de\"]\nlogo_url = \"/l.svg\"\nfailed_attempt_rate = \"off\"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := config.Parse(text)
		if err != nil {
			return
		}
		if err := c.Normalize(); err != nil {
			return
		}
		if c.Address() == "" || len(c.HostConfigs()) == 0 {
			t.Fatalf("normalized config without store or hosts: %+v", c)
		}
		_ = c.HTTP.Proxies()
		if _, err := webhook.Endpoints(c.Webhooks); err != nil {
			t.Fatalf("a normalized config's webhook cannot be delivered to: %v", err)
		}
	})
}

package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/webhook"
)

// Webhook is one [[webhook]] endpoint: the plugin POSTs the events it subscribes to,
// signed the Standard Webhooks way, from a durable outbox in the store (see package
// webhook and the README, Operations).
type Webhook struct {
	// Name identifies the endpoint in the delivery log and the metrics: letters,
	// digits, '.', '-' and '_', at most 64, unique.
	// Default: the URL's host and path.
	Name string `toml:"name"`
	// URL is where the events are POSTed: http or https. Required.
	URL string `toml:"url"`
	// Secret signs the messages: "whsec_" followed by the base64 of 24 to 64 random
	// bytes (invites-plugin webhooks secret makes one). Required.
	Secret string `toml:"secret"`
	// Events are the message types sent: "invite.created", "invite.redeemed",
	// "invite.revoked", "invite.expiring", "invite.expired", "account.created" and the
	// other account events (package webhook lists them). Default all.
	Events []string `toml:"events"`
	// Timeout bounds one delivery attempt. Default "10s", between 1 second and 1 minute.
	Timeout Duration `toml:"timeout"`
}

// maxWebhooks bounds the [[webhook]] entries.
const maxWebhooks = 16

// webhookName returns the webhook's name, or its default.
func (w Webhook) webhookName() string {
	if w.Name != "" {
		return w.Name
	}
	u, err := url.Parse(w.URL)
	if err != nil || u.Host == "" {
		return ""
	}
	name := u.Host + strings.TrimRight(u.EscapedPath(), "/")
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// validName reports whether a webhook name is made of the allowed characters.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '.', r == '-', r == '_', r == '/', r == ':':
		default:
			return false
		}
	}
	return true
}

// validateWebhooks checks the [[webhook]] entries; errors name the entry, never its
// secret.
func (c *Config) validateWebhooks() []error {
	var errs []error
	if len(c.Webhooks) > maxWebhooks {
		errs = append(errs, fmt.Errorf("at most %d [[webhook]] entries", maxWebhooks))
	}
	seen := map[string]bool{}
	for i, w := range c.Webhooks {
		where := fmt.Sprintf("webhook %d", i+1)
		u, err := url.Parse(w.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: url must be an http or https URL", where))
		}
		name := w.webhookName()
		switch {
		case !validName(name):
			errs = append(errs, fmt.Errorf("%s: name %q: use at most 64 letters, digits, '.', '-', '_', '/' or ':'", where, name))
		case seen[name]:
			errs = append(errs, fmt.Errorf("%s: the name %q is used twice: give each webhook its own name", where, name))
		}
		seen[name] = true
		if w.Secret == "" {
			errs = append(errs, fmt.Errorf("%s: a secret is required (make one with: invites-plugin webhooks secret)", where))
		} else if _, err := webhook.ParseSecret(w.Secret); err != nil {
			errs = append(errs, fmt.Errorf("%s: secret: %w", where, err))
		}
		for _, e := range w.Events {
			if !slices.Contains(webhook.Types(), e) {
				errs = append(errs, fmt.Errorf("%s: unknown event %q: use %s", where, e, strings.Join(webhook.Types(), ", ")))
			}
		}
		if w.Timeout != 0 && (w.Timeout < Duration(time.Second) || w.Timeout > Duration(time.Minute)) {
			errs = append(errs, fmt.Errorf("%s: timeout must be between 1 second and 1 minute", where))
		}
	}
	return errs
}

// WebhookEndpoints returns the [[webhook]] entries as the webhook worker takes them;
// Validate has checked them.
func (c *Config) WebhookEndpoints() []webhook.Endpoint {
	out := make([]webhook.Endpoint, 0, len(c.Webhooks))
	for _, w := range c.Webhooks {
		key, err := webhook.ParseSecret(w.Secret)
		if err != nil {
			continue
		}
		out = append(out, webhook.Endpoint{
			Name: w.webhookName(), URL: w.URL, Key: key,
			Types: slices.Clone(w.Events), Timeout: time.Duration(w.Timeout),
		})
	}
	return out
}

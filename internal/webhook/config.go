package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// Config is one [[webhook]] table of the plugin's config: an endpoint the plugin POSTs
// the events it subscribes to, signed the Standard Webhooks way, from a durable outbox
// in the store.
// The zero value of each optional field means its documented default, filled by
// Normalize.
type Config struct {
	// Name identifies the endpoint in the delivery log and the metrics: at most
	// [maxNameLen] letters, digits, '.', '-', '_', '/' or ':', unique.
	// Default: the URL's host and path.
	Name string `toml:"name"`
	// URL is where the events are POSTed: http or https. Required.
	URL string `toml:"url"`
	// Secret signs the messages: "whsec_" followed by the base64 of [MinSecretBytes] to
	// [MaxSecretBytes] random bytes (invites-plugin webhooks secret makes one).
	// Required.
	Secret string `toml:"secret"`
	// Events are the message types sent: "invite.created", "invite.redeemed",
	// "invite.revoked", "invite.expiring", "invite.expired", "account.created" and the
	// other account events (Types lists them all).
	// Default: all.
	Events []string `toml:"events"`
	// Timeout bounds one delivery attempt.
	// Default [DefaultTimeout]; from [minTimeout] to [maxTimeout].
	Timeout core.Duration `toml:"timeout"`
}

// Bounds of Config.
const (
	// MaxEndpoints bounds the [[webhook]] tables.
	MaxEndpoints = 16
	// maxNameLen bounds Config.Name, in bytes.
	maxNameLen = 64
	// minTimeout and maxTimeout bound Config.Timeout.
	minTimeout = time.Second
	maxTimeout = time.Minute
)

// Normalize fills the defaults of c and checks it; each error names its key, never the
// secret.
func (c *Config) Normalize() error {
	var errs []error
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("url must be an http or https URL"))
	}
	if c.Name == "" && err == nil && u.Host != "" {
		c.Name = u.Host + strings.TrimRight(u.EscapedPath(), "/")
		if len(c.Name) > maxNameLen {
			c.Name = c.Name[:maxNameLen]
		}
	}
	if !validName(c.Name) {
		errs = append(errs, fmt.Errorf("name %q: use at most %d letters, digits, '.', '-', '_', '/' or ':'", c.Name, maxNameLen))
	}
	if c.Secret == "" {
		errs = append(errs, errors.New("a secret is required (make one with: invites-plugin webhooks secret)"))
	} else if _, err := ParseSecret(c.Secret); err != nil {
		errs = append(errs, fmt.Errorf("secret: %w", err))
	}
	for _, e := range c.Events {
		if !slices.Contains(Types(), e) {
			errs = append(errs, fmt.Errorf("unknown event %q: use %s", e, strings.Join(Types(), ", ")))
		}
	}
	if c.Timeout == 0 {
		c.Timeout = core.Duration(DefaultTimeout)
	}
	if c.Timeout < core.Duration(minTimeout) || c.Timeout > core.Duration(maxTimeout) {
		errs = append(errs, fmt.Errorf("timeout must be between %s and %s", core.HumanDuration(minTimeout), core.HumanDuration(maxTimeout)))
	}
	return errors.Join(errs...)
}

// NormalizeAll normalizes every [[webhook]] table and checks them together: at most
// MaxEndpoints, each name once. Each error names its table by position ("webhook 2:").
func NormalizeAll(cs []Config) error {
	var errs []error
	if len(cs) > MaxEndpoints {
		errs = append(errs, fmt.Errorf("at most %d [[webhook]] tables", MaxEndpoints))
	}
	seen := map[string]bool{}
	for i := range cs {
		where := fmt.Sprintf("webhook %d", i+1)
		if err := cs[i].Normalize(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
		if n := cs[i].Name; seen[n] {
			errs = append(errs, fmt.Errorf("%s: the name %q is used twice: give each webhook its own name", where, n))
		}
		seen[cs[i].Name] = true
	}
	return errors.Join(errs...)
}

// Endpoint returns the endpoint c describes, as a Worker takes it; c must have been
// normalized.
func (c Config) Endpoint() (Endpoint, error) {
	key, err := ParseSecret(c.Secret)
	if err != nil {
		return Endpoint{}, fmt.Errorf("webhook %s: %w", c.Name, err)
	}
	return Endpoint{Name: c.Name, URL: c.URL, Key: key, Types: slices.Clone(c.Events), Timeout: time.Duration(c.Timeout)}, nil
}

// Endpoints returns the endpoints of the [[webhook]] tables, as a Worker takes them;
// NormalizeAll must have checked them.
func Endpoints(cs []Config) ([]Endpoint, error) {
	out := make([]Endpoint, 0, len(cs))
	for _, c := range cs {
		e, err := c.Endpoint()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// validName reports whether a webhook name is made of the allowed characters.
func validName(s string) bool {
	if s == "" || len(s) > maxNameLen {
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

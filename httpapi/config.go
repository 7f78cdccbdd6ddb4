package httpapi

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// Config is the [http] table of the plugin's config: the bounds of the invite API.
// Each key is optional; the zero value of each field means its documented default,
// filled by Normalize.
type Config struct {
	// MaxBodyBytes bounds a request body (a POST form, a PATCH), in bytes; a larger one
	// gets 413. Default 65536 (64 KiB); from 1 to 16777216 (16 MiB).
	MaxBodyBytes int64 `toml:"max_body_bytes"`
	// FailedAuthRate is how many failed authentications (a malformed, unknown, wrong,
	// expired or deleted key) one client address may make, as N/PERIOD such as "20/m"
	// or "100/1h", before its requests get 429; the budget refills steadily, and a
	// failure naming an existing key also spends that key's own budget from that
	// address. IPv6 addresses count by /64. Default "20/1m" (20 a minute).
	FailedAuthRate string `toml:"failed_auth_rate"`
	// TrustedProxies are the addresses (such as "127.0.0.1") or networks (such as
	// "10.0.0.0/8") of reverse proxies whose X-Forwarded-For names the client.
	// Default none: the connection's address is the client's. Behind a proxy, list it,
	// or every client shares the proxy's failed-authentication budget.
	TrustedProxies []string `toml:"trusted_proxies"`
}

// DefaultMaxBodyBytes is the default of Config.MaxBodyBytes and Options.MaxBodyBytes:
// 64 KiB, far more than any form of the API needs.
const DefaultMaxBodyBytes = 64 << 10

// MaxBodyBytesLimit is the largest Config.MaxBodyBytes accepted (16 MiB).
const MaxBodyBytesLimit = 16 << 20

// The default failed-authentication budget of a client address (Config.FailedAuthRate,
// Options.FailedAuthCount and FailedAuthPeriod).
const (
	defaultFailedAuthCount  = 20
	defaultFailedAuthPeriod = time.Minute
)

// Normalize fills the defaults of c and checks it; each error names its key (without
// the table's name) and says what the key accepts.
func (c *Config) Normalize() error {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.FailedAuthRate == "" {
		c.FailedAuthRate = core.Rate{N: defaultFailedAuthCount, Period: defaultFailedAuthPeriod}.String()
	}
	var errs []error
	if c.MaxBodyBytes < 1 || c.MaxBodyBytes > MaxBodyBytesLimit {
		errs = append(errs, fmt.Errorf("max_body_bytes must be between 1 and %d", MaxBodyBytesLimit))
	}
	if _, err := core.ParseRate(c.FailedAuthRate); err != nil {
		errs = append(errs, fmt.Errorf("failed_auth_rate: %w", err))
	}
	for _, p := range c.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			errs = append(errs, fmt.Errorf("trusted_proxies: %q is not an address or network", p))
		}
	}
	return errors.Join(errs...)
}

// Options returns the Handler's options as c decides them; the caller adds the rest
// (Logger, BasePath, Accounts). c must have been normalized.
func (c Config) Options() Options {
	opts := Options{MaxBodyBytes: c.MaxBodyBytes, TrustedProxies: c.Proxies()}
	if r, err := core.ParseRate(c.FailedAuthRate); err == nil {
		opts.FailedAuthCount, opts.FailedAuthPeriod = r.N, r.Period
	}
	return opts
}

// Proxies returns TrustedProxies as networks, leaving out any that Normalize refuses.
func (c Config) Proxies() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range c.TrustedProxies {
		if n, err := parsePrefix(p); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// parsePrefix reads a network, or a lone address as the network of just itself.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

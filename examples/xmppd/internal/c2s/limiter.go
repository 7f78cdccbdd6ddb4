package c2s

import (
	"net"
	"net/netip"
	"time"

	"github.com/xmpp-invites/invites/internal/clientaddr"
	"github.com/xmpp-invites/invites/internal/gcra"
)

// maxLimiterEntries bounds the addresses a failureLimiter remembers.
const maxLimiterEntries = 10000

// addrKey returns the budget an address counts against (clientaddr.Key): its IPv4
// address, or the /64 of its IPv6 address. Addresses that cannot be read share one.
func addrKey(addr net.Addr) netip.Prefix { return clientaddr.Key(clientaddr.Of(addr)) }

// failureLimiter budgets failed logins per client address (see addrKey), to slow
// password guessing across connections: max failures, refilled steadily over window
// (gcra). Its memory is bounded by forgetting first the addresses closest to a full
// budget, never by leaving a new address uncounted.
type failureLimiter struct {
	l   *gcra.Limiter[netip.Prefix]
	now func() time.Time
}

// newFailureLimiter allows max failures per address per window.
func newFailureLimiter(max int, window time.Duration, now func() time.Time) *failureLimiter {
	return &failureLimiter{l: gcra.New[netip.Prefix](max, window, maxLimiterEntries), now: now}
}

// reserve counts a login attempt from addr as a failure before its password is
// checked, so that attempts made at once cannot all pass before any has failed; false
// means addr has used up its failures. Call succeeded when the login succeeds.
func (l *failureLimiter) reserve(addr net.Addr) bool { return l.l.Take(addrKey(addr), l.now()) == 0 }

// succeeded gives back what reserve counted for a login that succeeded.
func (l *failureLimiter) succeeded(addr net.Addr) { l.l.Refund(addrKey(addr), l.now()) }

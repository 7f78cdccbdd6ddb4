package httpapi

import (
	"cmp"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// authLimiter budgets failed authentications so that guessing stays bounded while a
// valid key keeps working from an address others fail from (a NAT, an office, a proxy):
//
//   - every failure from a client address spends the address's budget;
//   - a failure that names an existing key (a wrong secret, an expired key) also spends
//     that key's own budget from that address.
//
// When an address has spent its budget, its requests get 429 unless they name an
// existing key whose budget from that address is not spent; when a key's budget from an
// address is spent, requests naming that key from that address get 429.
// From one address, per period, at most N failures name no existing key, and at most N
// more name each existing key: a client that knows no key ID learns nothing past N.
// Both budgets hold N failures refilled by one every Period/N (a generic cell rate
// algorithm), and each table remembers at most max entries.
type authLimiter struct {
	addrs *gcra[netip.Prefix]
	keys  *gcra[keyBudget]
}

// keyBudget names the budget of one existing key from one client address.
type keyBudget struct {
	addr netip.Prefix
	id   string
}

func newAuthLimiter(rate core.Rate, maxClients int) *authLimiter {
	return &authLimiter{addrs: newGCRA[netip.Prefix](rate, maxClients), keys: newGCRA[keyBudget](rate, maxClients)}
}

// wait says how long until addr may fail once more; zero means it may now.
func (l *authLimiter) wait(addr netip.Prefix, now time.Time) time.Duration {
	return l.addrs.wait(addr, now)
}

// fail takes one failure from addr's budget.
func (l *authLimiter) fail(addr netip.Prefix, now time.Time) { l.addrs.fail(addr, now) }

// authenticate checks a request's credential under the failed-authentication budgets
// and returns its key and the actor it is, or the statusError to answer with (429, 403,
// or 500 for a store failure).
// Every path that authenticates an API key goes through it.
func (h *Handler) authenticate(r *http.Request, credential string) (core.Key, core.Actor, error) {
	ctx := r.Context()
	addr := addrKey(h.clientIP(r))
	var addrWait time.Duration
	if h.failed != nil {
		addrWait = h.failed.wait(addr, h.now())
	}
	spent := func(wait time.Duration) error {
		return &statusError{status: http.StatusTooManyRequests, retryAfter: wait,
			detail: "too many failed authentications from this address"}
	}
	if credential == "" {
		// Not a failure (a page without its key yet), but no way around a spent budget.
		if addrWait > 0 {
			return core.Key{}, core.Actor{}, spent(addrWait)
		}
		return core.Key{}, core.Actor{}, &statusError{status: http.StatusForbidden, detail: "missing API key"}
	}
	// The ID alone decides which budget applies; Authenticate checks the rest.
	id, _, _ := strings.Cut(credential, "/")
	idOK := core.ValidKeyID(id)
	if !idOK && addrWait > 0 {
		return core.Key{}, core.Actor{}, spent(addrWait)
	}
	if idOK && h.failed != nil {
		if wait := h.failed.keys.wait(keyBudget{addr, id}, h.now()); wait > 0 {
			return core.Key{}, core.Actor{}, &statusError{status: http.StatusTooManyRequests, retryAfter: wait,
				detail: "too many failed authentications for this key from this address"}
		}
	}
	key, err := h.svc.Authenticate(ctx, credential)
	if err == nil {
		// The audit log records the address, or the network an IPv6 client is limited by.
		return key, core.KeyActor(key, remoteOf(addr)), nil
	}
	serr := authError(err)
	if serr == nil {
		return core.Key{}, core.Actor{}, &statusError{status: http.StatusInternalServerError, err: err}
	}
	// A failure names an existing key unless the ID is malformed or unknown.
	known := idOK && !errors.Is(err, core.ErrUnknownKey) && !errors.Is(err, core.ErrInvalid)
	if h.failed != nil {
		now := h.now()
		h.failed.fail(addr, now)
		if known {
			h.failed.keys.fail(keyBudget{addr, id}, now)
		}
		if addrWait > 0 && !known {
			// The address had spent its budget: only existing keys were still open.
			return core.Key{}, core.Actor{}, spent(addrWait)
		}
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "invites api authentication failed",
		slog.String("remote", r.RemoteAddr), slog.String("reason", serr.detail))
	return core.Key{}, core.Actor{}, serr
}

// gcra budgets failures per key K with a generic cell rate algorithm: a budget of N
// failures, refilled by one every Period/N. It remembers at most max keys.
type gcra[K comparable] struct {
	interval time.Duration // Period/N: how long one failure takes to be forgiven
	burst    time.Duration // Period - interval: how far ahead the budget may run
	max      int

	mu  sync.Mutex
	tat map[K]time.Time // theoretical arrival time per key
}

func newGCRA[K comparable](rate core.Rate, maxKeys int) *gcra[K] {
	interval := rate.Period / time.Duration(rate.N)
	return &gcra[K]{
		interval: interval,
		burst:    rate.Period - interval,
		max:      max(maxKeys, 1),
		tat:      make(map[K]time.Time),
	}
}

// wait says how long until k may fail once more; zero means it may now.
func (l *gcra[K]) wait(k K, now time.Time) time.Duration {
	l.mu.Lock()
	tat, ok := l.tat[k]
	l.mu.Unlock()
	if !ok {
		return 0
	}
	return max(tat.Sub(now)-l.burst, 0)
}

// fail takes one failure from k's budget.
func (l *gcra[K]) fail(k K, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, ok := l.tat[k]
	if !ok && len(l.tat) >= l.max {
		l.shrink(now)
	}
	if tat.Before(now) {
		tat = now
	}
	tat = tat.Add(l.interval)
	// Concurrent failures may all pass wait; never run further ahead than a full
	// budget, so that one client cannot lock itself out for longer than Period.
	if limit := now.Add(l.burst + l.interval); tat.After(limit) {
		tat = limit
	}
	l.tat[k] = tat
}

// shrink forgets the keys whose budget is full again and, if that frees too little,
// those closest to a full budget, down to three quarters of max; l.mu is held.
// A forgotten key has a full budget again: under a flood of addresses the limit
// weakens for the clients that failed least and longest ago, never for the latest
// offenders, and memory stays bounded. Sorting makes it O(max log max), once every
// max/4 new keys.
func (l *gcra[K]) shrink(now time.Time) {
	for k, t := range l.tat {
		if !t.After(now) {
			delete(l.tat, k)
		}
	}
	target := l.max * 3 / 4
	if len(l.tat) <= target {
		return
	}
	type entry struct {
		k   K
		tat time.Time
	}
	all := make([]entry, 0, len(l.tat))
	for k, t := range l.tat {
		all = append(all, entry{k, t})
	}
	slices.SortFunc(all, func(a, b entry) int { return cmp.Compare(a.tat.UnixNano(), b.tat.UnixNano()) })
	for _, e := range all[:len(all)-target] {
		delete(l.tat, e.k)
	}
}

// clientIP returns the client's address: the connection's peer, unless that peer is a
// trusted proxy: then the right-most address of X-Forwarded-For that is not a trusted
// proxy. An unparseable address gives the invalid Addr.
// Its failures count against addrKey of it: the IPv4 address, or the /64 of an IPv6
// address, since one host usually holds a whole /64; unparseable addresses all share
// one budget.
func (h *Handler) clientIP(r *http.Request) netip.Addr {
	addr := parseAddr(r.RemoteAddr)
	if len(h.proxies) > 0 && h.trusted(addr) {
		fields := r.Header.Values("X-Forwarded-For")
	outer:
		for i := len(fields) - 1; i >= 0; i-- {
			hops := strings.Split(fields[i], ",")
			for j := len(hops) - 1; j >= 0; j-- {
				hop := parseAddr(strings.TrimSpace(hops[j]))
				if !hop.IsValid() {
					break outer // garbage: believe nothing further left
				}
				addr = hop
				if !h.trusted(hop) {
					break outer
				}
			}
		}
	}
	return addr
}

// trusted reports whether addr is one of the trusted proxies.
func (h *Handler) trusted(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	for _, p := range h.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// parseAddr reads "IP", "IP:port" or "[IP]:port"; an invalid Addr when it cannot.
func parseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// addrKey returns the budget of an address: itself for IPv4, its /64 for IPv6, and
// the zero Prefix for an invalid one.
func addrKey(a netip.Addr) netip.Prefix {
	switch {
	case !a.IsValid():
		return netip.Prefix{}
	case a.Is4():
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.WithZone("").Prefix(64) // cannot fail for an IPv6 address
	return p
}

package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/clientaddr"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/gcra"
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
	addrs *gcra.Limiter[netip.Prefix]
	keys  *gcra.Limiter[keyBudget]
}

// keyBudget names the budget of one existing key from one client address.
type keyBudget struct {
	addr netip.Prefix
	id   string
}

func newAuthLimiter(rate core.Rate, maxClients int) *authLimiter {
	return &authLimiter{
		addrs: gcra.New[netip.Prefix](rate.N, rate.Period, maxClients),
		keys:  gcra.New[keyBudget](rate.N, rate.Period, maxClients),
	}
}

// authenticate checks a request's credential under the failed-authentication budgets
// and returns its key and the actor it is, or the statusError to answer with (429, 403,
// or 500 for a store failure).
// Every path that authenticates an API key goes through it.
func (h *Handler) authenticate(r *http.Request, credential string) (core.Key, core.Actor, error) {
	ctx := r.Context()
	addr := clientaddr.Key(h.clients.Addr(r))
	var addrWait time.Duration
	if h.failed != nil {
		addrWait = h.failed.addrs.Wait(addr, h.now())
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
		if wait := h.failed.keys.Wait(keyBudget{addr, id}, h.now()); wait > 0 {
			return core.Key{}, core.Actor{}, &statusError{status: http.StatusTooManyRequests, retryAfter: wait,
				detail: "too many failed authentications for this key from this address"}
		}
	}
	key, err := h.svc.Authenticate(ctx, credential)
	if err == nil {
		// The audit log records the address, or the network an IPv6 client is limited by.
		return key, core.KeyActor(key, clientaddr.String(addr)), nil
	}
	serr := authError(err)
	if serr == nil {
		return core.Key{}, core.Actor{}, coreError(err)
	}
	// A failure names an existing key unless the ID is malformed or unknown.
	known := idOK && !errors.Is(err, core.ErrUnknownKey) && !errors.Is(err, core.ErrInvalid)
	if h.failed != nil {
		now := h.now()
		h.failed.addrs.Spend(addr, now)
		if known {
			h.failed.keys.Spend(keyBudget{addr, id}, now)
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

package service

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/xmpp-invites/invites/internal/clientaddr"
	"github.com/xmpp-invites/invites/internal/core"
)

// This file carries the client address of a web registration to the redemption it
// leads to, for the audit record (issue 21, LOW 11). The page hands the registration to
// the host (plugin.HostAPI.Register), which creates the account and then asks the
// plugin to redeem the invite (RedeemInvite), a call of its own that knows nothing of
// the page's request. While the page's call to the host runs, the address is kept here,
// by a hash of the token and the account; RedeemInvite takes it. It goes to the audit
// log only, never to a webhook (package webhook removes it).

// remoteTTL bounds how long an address waits for its redemption: the page's own
// timeout on the host's call is shorter.
const remoteTTL = time.Minute

// maxRemotes bounds the addresses kept; past it the oldest are forgotten.
const maxRemotes = 4096

// remotes remembers the client addresses of the web registrations in progress.
type remotes struct {
	mu sync.Mutex
	m  map[[32]byte]remote
}

type remote struct {
	addr string
	at   time.Time
}

// remoteKey names one registration: its invite's host and token and the account.
func remoteKey(host, token, username string) [32]byte {
	if n, err := core.NormalizeUsername(username); err == nil {
		username = n
	}
	return sha256.Sum256([]byte(host + "\x00" + token + "\x00" + username))
}

// put keeps addr for the registration until done is called.
func (rs *remotes) put(host, token, username, addr string) (done func()) {
	if addr == "" {
		return func() {}
	}
	k, now := remoteKey(host, token, username), time.Now()
	rs.mu.Lock()
	if rs.m == nil {
		rs.m = make(map[[32]byte]remote)
	}
	if len(rs.m) >= maxRemotes {
		for key, r := range rs.m {
			if now.Sub(r.at) > remoteTTL || len(rs.m) >= maxRemotes {
				delete(rs.m, key)
			}
		}
	}
	rs.m[k] = remote{addr: addr, at: now}
	rs.mu.Unlock()
	return func() {
		rs.mu.Lock()
		delete(rs.m, k)
		rs.mu.Unlock()
	}
}

// get returns the address of a registration in progress, or "".
func (rs *remotes) get(host, token, username string) string {
	k := remoteKey(host, token, username)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r, ok := rs.m[k]
	if !ok || time.Since(r.at) > remoteTTL {
		return ""
	}
	return r.addr
}

// remoteCtxKey is the context key of a page request's client address.
type remoteCtxKey struct{}

// withClientAddr returns h with each request's client address (as resolve gives it,
// behind trusted proxies too) in its context, for the registrar the page calls.
func withClientAddr(h http.Handler, resolve func(*http.Request) netip.Addr) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := resolve(r); a.IsValid() {
			r = r.WithContext(context.WithValue(r.Context(), remoteCtxKey{}, clientaddr.String(clientaddr.Key(a))))
		}
		h.ServeHTTP(w, r)
	})
}

// clientAddrOf returns the client address withClientAddr put in ctx, or "".
func clientAddrOf(ctx context.Context) string {
	s, _ := ctx.Value(remoteCtxKey{}).(string)
	return s
}

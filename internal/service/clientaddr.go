package service

import (
	"net/http"
	"net/netip"

	"github.com/xmpp-invites/invites/internal/clientaddr"
	"github.com/xmpp-invites/invites/plugin"
)

// The client address of a web registration reaches the redemption it leads to, for
// the audit record (issue 21, LOW 11), the way every client address crosses the
// boundary: the page puts it in its request's context (plugin.WithClientAddr), the
// page's call to the host (HostAPI.Register) carries it, and the host's call back
// (RedeemInvite) brings it again. It goes to the audit log only, never to a webhook
// (package webhook removes it).

// withClientAddr returns h with each request's client address (as resolve gives it,
// behind trusted proxies too) in its context, for the registrar the page calls.
func withClientAddr(h http.Handler, resolve func(*http.Request) netip.Addr) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := resolve(r); a.IsValid() {
			r = r.WithContext(plugin.WithClientAddr(r.Context(), clientaddr.String(clientaddr.Key(a))))
		}
		h.ServeHTTP(w, r)
	})
}

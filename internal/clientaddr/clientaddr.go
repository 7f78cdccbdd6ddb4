// Package clientaddr finds the client of an HTTP request or a connection, and the
// budget its failures count against.
//
// The client is the connection's peer, unless that peer is a trusted reverse proxy:
// then it is the right-most address of X-Forwarded-For that is not itself a trusted
// proxy (RFC 7239's reasoning: only the hops we trust could have been lied past).
// A client's failures count against Key of its address: the IPv4 address, or the /64
// of an IPv6 address, since one host usually holds a whole /64.
// The HTTP API, the invite page and the example server's logins use this package, so
// that every limit in the product groups clients the same way.
package clientaddr

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds the client address of requests that may come through trusted
// reverse proxies. The zero Resolver trusts no proxy: the client is the peer.
type Resolver struct {
	trusted []netip.Prefix
}

// NewResolver returns a Resolver believing the X-Forwarded-For of connections from
// the trusted networks.
func NewResolver(trusted []netip.Prefix) Resolver {
	return Resolver{trusted: append([]netip.Prefix(nil), trusted...)}
}

// Addr returns r's client address, the invalid Addr when it cannot be read.
func (res Resolver) Addr(r *http.Request) netip.Addr {
	addr := Parse(r.RemoteAddr)
	if len(res.trusted) == 0 || !res.Trusted(addr) {
		return addr
	}
	fields := r.Header.Values("X-Forwarded-For")
	for i := len(fields) - 1; i >= 0; i-- {
		hops := strings.Split(fields[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			hop := Parse(strings.TrimSpace(hops[j]))
			if !hop.IsValid() {
				return addr // garbage: believe nothing further left
			}
			addr = hop
			if !res.Trusted(hop) {
				return addr
			}
		}
	}
	return addr
}

// Trusted reports whether addr is one of the trusted proxies.
func (res Resolver) Trusted(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	for _, p := range res.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Parse reads "IP", "IP:port" or "[IP]:port", an IPv4-mapped IPv6 address as IPv4;
// the invalid Addr when it cannot.
func Parse(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// Of returns the address of a connection's peer, the invalid Addr when it has none.
func Of(addr net.Addr) netip.Addr {
	switch a := addr.(type) {
	case nil:
		return netip.Addr{}
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	return Parse(addr.String())
}

// Key returns the budget an address's failures count against: the address itself
// for IPv4, its /64 for IPv6, and the zero Prefix, shared by all, for an invalid one.
func Key(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return netip.Prefix{}
	case a.Is4():
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.WithZone("").Prefix(64) // cannot fail for an IPv6 address
	return p
}

// String returns what a log or an audit record says of a budget: the address alone
// for a single address, the network for an IPv6 /64, "" for the zero Prefix.
func String(p netip.Prefix) string {
	switch {
	case !p.IsValid():
		return ""
	case p.Bits() == p.Addr().BitLen():
		return p.Addr().String()
	}
	return p.String()
}

package httpapi

import "net/netip"

// remoteOf writes a client address as the audit log records it: the address, or the
// network an IPv6 client is limited by.
func remoteOf(p netip.Prefix) string {
	switch {
	case !p.IsValid():
		return ""
	case p.Bits() == p.Addr().BitLen():
		return p.Addr().String()
	}
	return p.String()
}

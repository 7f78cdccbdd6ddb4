package clientaddr_test

import (
	"net"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/xmpp-invites/invites/internal/clientaddr"
)

func TestResolver(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for i, tc := range []struct {
		trusted []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		0: {nil, "192.0.2.1:1234", []string{"203.0.113.9"}, "192.0.2.1"},     // no proxy trusted
		1: {proxies, "192.0.2.1:1234", []string{"203.0.113.9"}, "192.0.2.1"}, // not from a proxy
		2: {proxies, "10.1.2.3:80", []string{"203.0.113.9"}, "203.0.113.9"},  // from a proxy
		3: {proxies, "10.1.2.3:80", []string{"1.1.1.1, 203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		4: {proxies, "10.1.2.3:80", []string{"1.1.1.1", "203.0.113.9"}, "203.0.113.9"},
		5: {proxies, "10.1.2.3:80", []string{"garbage, 203.0.113.9"}, "203.0.113.9"},
		6: {proxies, "10.1.2.3:80", []string{"203.0.113.9, garbage"}, "10.1.2.3"}, // garbage right of us
		7: {proxies, "[::1]:80", []string{"2001:db8::1"}, "2001:db8::1"},
		8: {proxies, "[::ffff:192.0.2.1]:80", nil, "192.0.2.1"},
		9: {nil, "nonsense", nil, "invalid IP"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientaddr.NewResolver(tc.trusted).Addr(r).String(); got != tc.want {
			t.Errorf("%d: %s, want %s", i, got, tc.want)
		}
	}
}

func TestKey(t *testing.T) {
	for i, tc := range []struct{ addr, want string }{
		0: {"192.0.2.1", "192.0.2.1/32"},
		1: {"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		2: {"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"}, // one /64, one budget
		3: {"::ffff:192.0.2.1", "192.0.2.1/32"},
		4: {"fe80::1%eth0", "fe80::/64"},
	} {
		if got := clientaddr.Key(netip.MustParseAddr(tc.addr)).String(); got != tc.want {
			t.Errorf("%d: %s, want %s", i, got, tc.want)
		}
	}
	if k := clientaddr.Key(netip.Addr{}); k.IsValid() {
		t.Errorf("an invalid address has budget %v", k)
	}
	if s := clientaddr.String(clientaddr.Key(netip.MustParseAddr("192.0.2.1"))); s != "192.0.2.1" {
		t.Errorf("String = %q", s)
	}
	if s := clientaddr.String(clientaddr.Key(netip.MustParseAddr("2001:db8::1"))); s != "2001:db8::/64" {
		t.Errorf("String = %q", s)
	}
}

func TestOf(t *testing.T) {
	if got := clientaddr.Of(&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5222}); got.String() != "192.0.2.7" {
		t.Errorf("TCP: %v", got)
	}
	if got := clientaddr.Of(nil); got.IsValid() {
		t.Errorf("nil: %v", got)
	}
}

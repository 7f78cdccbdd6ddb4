package service

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/page"
	"github.com/xmpp-invites/invites/plugin"
)

func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for i, tc := range []struct {
		proxies []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{nil, "192.0.2.1:4711", []string{"198.51.100.7"}, "192.0.2.1"}, // no proxy trusted: X-Forwarded-For ignored
		{proxies, "192.0.2.1:4711", []string{"198.51.100.7"}, "192.0.2.1"},
		{proxies, "10.1.2.3:4711", []string{"198.51.100.7"}, "198.51.100.7"},
		{proxies, "[::1]:4711", []string{"203.0.113.9, 10.0.0.5"}, "203.0.113.9"},
		{proxies, "10.1.2.3:4711", []string{"203.0.113.9", "198.51.100.7, 10.2.2.2"}, "198.51.100.7"},
		{proxies, "10.1.2.3:4711", []string{"garbage, 198.51.100.7"}, "198.51.100.7"},
		{proxies, "10.1.2.3:4711", []string{"198.51.100.7, garbage"}, "10.1.2.3"},
		{proxies, "10.1.2.3:4711", nil, "10.1.2.3"},
		{proxies, "[2001:db8::1]:443", nil, "2001:db8::1"},
		{nil, "[::ffff:192.0.2.1]:1", nil, "192.0.2.1"},
		{nil, "not an address", nil, "invalid IP"},
	} {
		r := httptest.NewRequest("GET", "/invite", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientAddr(tc.proxies)(r).String(); got != tc.want {
			t.Errorf("%d: %s %v: %s, want %s", i, tc.remote, tc.xff, got, tc.want)
		}
	}
}

func TestPageErrors(t *testing.T) {
	for i, tc := range []struct {
		err, want error
	}{
		{core.ErrNotFound, page.ErrInviteDead},
		{core.ErrRevoked, page.ErrInviteDead},
		{core.ErrUsedUp, page.ErrInviteDead},
		{fmt.Errorf("checking invite: %w", core.ErrExpired), page.ErrInviteDead},
		{core.ErrUnknownHost, page.ErrInviteDead},
		{errors.New("database is locked"), page.ErrUnavailable},
		{context.DeadlineExceeded, context.DeadlineExceeded},
	} {
		if got := pageInviteError(tc.err); !errors.Is(got, tc.want) || !errors.Is(got, tc.err) {
			t.Errorf("%d: invite %v → %v, want %v", i, tc.err, got, tc.want)
		}
	}
	for i, tc := range []struct {
		err, want error
	}{
		{plugin.ErrAccountExists, page.ErrNameTaken},
		{plugin.ErrInvalidUsername, page.ErrInvalidName},
		{plugin.ErrInvalidPassword, page.ErrInvalidPassword},
		{plugin.ErrInviteNotFound, page.ErrInviteDead},
		{plugin.ErrInviteExpired, page.ErrInviteDead},
		{fmt.Errorf("redeeming: %w", plugin.ErrUsernameNotAllowed), page.ErrNameNotAllowed},
		{plugin.ErrUnavailable, page.ErrUnavailable},
	} {
		if got := pageRegisterError(tc.err); !errors.Is(got, tc.want) || !errors.Is(got, tc.err) {
			t.Errorf("%d: register %v → %v, want %v", i, tc.err, got, tc.want)
		}
	}
	other := errors.New("disk on fire")
	if got := pageRegisterError(other); got != other {
		t.Errorf("other error → %v", got)
	}
}

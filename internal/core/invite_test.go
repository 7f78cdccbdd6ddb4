package core_test

import (
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

const tok = "Ab-_cdEFghIJklMNopQRstUV"

func TestInviteURI(t *testing.T) {
	tests := []struct {
		inv  core.Invite
		want string
	}{
		0: {core.Invite{Host: "example.com", Kind: core.KindAccount},
			"xmpp:example.com?register;preauth=" + tok},
		1: {core.Invite{Host: "example.com"}, // the zero Kind is an account invite
			"xmpp:example.com?register;preauth=" + tok},
		2: {core.Invite{Host: "example.com", Kind: core.KindAccount, Username: "alice"},
			"xmpp:alice@example.com?register;preauth=" + tok},
		3: {core.Invite{Host: "example.com", Kind: core.KindContact, Inviter: "bob"},
			"xmpp:bob@example.com?roster;preauth=" + tok},
		4: {core.Invite{Host: "example.com", Kind: core.KindContact, Inviter: "bob", AllowRegister: true},
			"xmpp:bob@example.com?roster;preauth=" + tok + ";ibr=y"},
		5: {core.Invite{Host: "example.com", Kind: core.KindAccount, AllowRegister: true},
			"xmpp:example.com?register;preauth=" + tok},
		6: {core.Invite{Host: "example.com", Kind: core.KindAccount, Username: "al ice;x?y"},
			"xmpp:al%20ice%3Bx%3Fy@example.com?register;preauth=" + tok},
		7: {core.Invite{Host: "example.com", Kind: core.KindContact, Inviter: "a@b"},
			"xmpp:a%40b@example.com?roster;preauth=" + tok},
		8: {core.Invite{Host: "xn--bcher-kva.example", Kind: core.KindAccount, Username: "ünïcode"},
			"xmpp:%C3%BCn%C3%AFcode@xn--bcher-kva.example?register;preauth=" + tok},
	}
	for i, tc := range tests {
		if got := tc.inv.URI(tok); got != tc.want {
			t.Errorf("%d: URI = %q, want %q", i, got, tc.want)
		}
	}
}

func TestLandingPage(t *testing.T) {
	account := core.Invite{Host: "example.com", Kind: core.KindAccount}
	fixed := core.Invite{Host: "example.com", Kind: core.KindAccount, Username: "alice"}
	tests := []struct {
		template string
		inv      core.Invite
		want     string
	}{
		0: {"", account, ""},
		1: {"https://example.com/invite?{token}", account, "https://example.com/invite?" + tok},
		2: {"https://example.com/invite/{token}", account, "https://example.com/invite/" + tok},
		3: {"https://{host}/i/{token}", account, "https://example.com/i/" + tok},
		4: {"https://example.com/invite?uri={uri}", account,
			"https://example.com/invite?uri=xmpp%3Aexample.com%3Fregister%3Bpreauth%3D" + tok},
		5: {"https://example.com/invite/{uri}", account,
			"https://example.com/invite/xmpp:example.com%3Fregister%3Bpreauth=" + tok},
		6: {"https://example.com/invite?uri={uri}&t={token}&h={host}", fixed,
			"https://example.com/invite?uri=xmpp%3Aalice%40example.com%3Fregister%3Bpreauth%3D" + tok + "&t=" + tok + "&h=example.com"},
		7:  {"https://example.com/{unknown}/{token", account, "https://example.com/{unknown}/{token"},
		8:  {"https://example.com/{}{token}}", account, "https://example.com/{}" + tok + "}"},
		9:  {"no placeholders", account, "no placeholders"},
		10: {"https://example.com/#{token}", account, "https://example.com/#" + tok},
	}
	for i, tc := range tests {
		if got := core.LandingPage(tc.template, tc.inv, tok); got != tc.want {
			t.Errorf("%d: LandingPage(%q) = %q, want %q", i, tc.template, got, tc.want)
		}
	}
}

func TestInviteExpiredAndCanRegister(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		inv         core.Invite
		expired     bool
		canRegister bool
	}{
		0: {core.Invite{Kind: core.KindAccount, ExpiresAt: now.Add(time.Second)}, false, true},
		1: {core.Invite{Kind: core.KindAccount, ExpiresAt: now}, true, true},
		2: {core.Invite{Kind: core.KindAccount, ExpiresAt: now.Add(-time.Second)}, true, true},
		3: {core.Invite{Kind: core.KindContact, ExpiresAt: now.Add(time.Hour)}, false, false},
		4: {core.Invite{Kind: core.KindContact, AllowRegister: true, ExpiresAt: now.Add(time.Hour)}, false, true},
		5: {core.Invite{Kind: "other", ExpiresAt: now.Add(time.Hour)}, false, false},
	}
	for i, tc := range tests {
		if got := tc.inv.Expired(now); got != tc.expired {
			t.Errorf("%d: Expired = %v, want %v", i, got, tc.expired)
		}
		if got := tc.inv.CanRegister(); got != tc.canRegister {
			t.Errorf("%d: CanRegister = %v, want %v", i, got, tc.canRegister)
		}
	}
}

package core_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func isB64URL(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune(b64url, c) {
			return false
		}
	}
	return true
}

// TestTokenFormat checks tokens made through the Service: ID || SECRET, 36 base64url
// characters; IDs time-ordered in text order; secrets never repeating.
func TestTokenFormat(t *testing.T) {
	e := newEnv(t)
	const n = 5_000
	seen := make(map[string]struct{}, n)
	var lastID string
	for i := range n {
		if i%500 == 0 {
			e.clock.Add(time.Millisecond) // also many in one millisecond
		}
		inv, err := e.svc.CreateInvite(t.Context(), core.InviteSpec{Host: "example.com"})
		if err != nil {
			t.Fatal(err)
		}
		tok := inv.Token
		if len(tok) != 36 || core.TokenLen != 36 || !isB64URL(tok) || !core.ValidToken(tok) {
			t.Fatalf("token %q: want 36 base64url characters", tok)
		}
		if inv.ID != tok[:12] || core.TokenID(tok) != inv.ID || !core.ValidID(inv.ID) {
			t.Fatalf("invite ID %q is not the token's first 12 characters (%q)", inv.ID, tok)
		}
		if inv.ID <= lastID {
			t.Fatalf("ID %q made after %q sorts before it", inv.ID, lastID)
		}
		lastID = inv.ID
		if at, ok := core.IDTime(inv.ID); !ok || !at.Equal(inv.CreatedAt.Truncate(time.Millisecond)) {
			t.Fatalf("IDTime(%q) = %v, %v; want %v", inv.ID, at, ok, inv.CreatedAt)
		}
		if _, dup := seen[tok[12:]]; dup {
			t.Fatalf("secret of %q repeated after %d tokens", tok, i)
		}
		seen[tok[12:]] = struct{}{}
	}
}

// TestIDOrder checks that text order is time order across the alphabet's range.
func TestIDOrder(t *testing.T) {
	e := newEnv(t)
	var last string
	for _, d := range []time.Duration{0, time.Millisecond, time.Second, time.Hour, 1000 * 24 * time.Hour, 30 * 365 * 24 * time.Hour} {
		e.clock.Add(d)
		inv, err := e.svc.CreateInvite(t.Context(), core.InviteSpec{Host: "example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if inv.ID <= last {
			t.Fatalf("after %v: ID %q sorts before the earlier %q", d, inv.ID, last)
		}
		last = inv.ID
	}
}

func TestLegacyTokenID(t *testing.T) {
	const legacy = "Ab-_cdEFghIJklMNopQRstUV"
	h := core.HashToken(legacy)
	if len(h) != 32 {
		t.Fatalf("HashToken gives %d bytes, want 32 (SHA-256)", len(h))
	}
	id := core.InviteID(h)
	if len(id) != 12 || !isB64URL(id) || strings.Contains(legacy, id) {
		t.Fatalf("InviteID = %q, want 12 base64url characters not taken from the token", id)
	}
	if core.TokenID(legacy) != id {
		t.Fatalf("TokenID of a legacy token = %q, want the ID derived from its hash %q", core.TokenID(legacy), id)
	}
	if _, ok := core.IDTime(id); ok && id[0] != '-' {
		t.Logf("a legacy ID may parse as a time; it is only a hint")
	}
}

func TestValidToken(t *testing.T) {
	const v2 = "-0Ab_cdEFghIJklMNopQRstUVwxYZ0123456"
	tests := []struct {
		in   string
		want bool
	}{
		0:  {"abcdefghijklmnopqrstuvwx", true}, // legacy
		1:  {"ABCDEFGHIJKLMNOPQRSTUV-_", true},
		2:  {"abcdefghijklmnopqrstuvw", false},   // 23
		3:  {"abcdefghijklmnopqrstuvwxy", false}, // 25
		4:  {"abcdefghijklmnopqrstuvw+", false},
		5:  {"abcdefghijklmnopqrstuvw/", false},
		6:  {"abcdefghijklmnopqrstuvw=", false},
		7:  {"", false},
		8:  {"abcdefghijklmnopqrstuvw\x00", false},
		9:  {"abcdefghijklmnopqrstuvwé", false},
		10: {v2, true},
		11: {v2[:35], false},
		12: {v2 + "A", false},
		13: {v2[:35] + "+", false},
		14: {v2[:12], false}, // an ID alone
	}
	for i, tc := range tests {
		if got := core.ValidToken(tc.in); got != tc.want {
			t.Errorf("%d: ValidToken(%q) = %v, want %v", i, tc.in, got, tc.want)
		}
		if id := core.TokenID(tc.in); (id != "") != tc.want {
			t.Errorf("%d: TokenID(%q) = %q", i, tc.in, id)
		}
	}
}

func TestKeyFormat(t *testing.T) {
	svc, _, _ := newService(t)
	seen := map[string]bool{}
	for range 200 {
		k, cred, err := svc.CreateKey(t.Context(), core.KeySpec{Host: "example.com"})
		if err != nil {
			t.Fatal(err)
		}
		id, secret, ok := strings.Cut(cred, "/")
		if !ok || len(id) != 12 || len(secret) != 36 || !isB64URL(id) || !isB64URL(secret) {
			t.Fatalf("credential %q: want ID/SECRET of 12 and 36 base64url characters", cred)
		}
		if k.ID != id {
			t.Fatalf("key ID %q differs from the credential's %q", k.ID, id)
		}
		if seen[id] || seen[secret] {
			t.Fatalf("credential %q repeats an earlier ID or secret", cred)
		}
		seen[id], seen[secret] = true, true
		gotID, gotSecret, err := core.ParseKey(cred)
		if err != nil || gotID != id || gotSecret != secret {
			t.Fatalf("ParseKey(%q) = %q, %q, %v", cred, gotID, gotSecret, err)
		}
		if !core.ValidKeyID(id) {
			t.Fatalf("ValidKeyID(%q) = false", id)
		}
	}
}

func TestParseKey(t *testing.T) {
	const (
		id     = "abcdefghijkl"
		secret = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	)
	tests := []struct {
		in     string
		wantOK bool
	}{
		0:  {id + "/" + secret, true},
		1:  {"-_-_-_-_-_-_/" + "_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-", true},
		2:  {"", false},
		3:  {id, false},
		4:  {id + secret, false},
		5:  {"/" + secret, false},
		6:  {id + "/", false},
		7:  {id[:11] + "/" + secret, false},
		8:  {id + "x/" + secret, false},
		9:  {id + "/" + secret[:35], false},
		10: {id + "/" + secret + "x", false},
		11: {id + "/" + secret + "/", false},
		12: {"abcdefghijk+/" + secret, false},
		13: {id + "/" + secret[:35] + "=", false},
		14: {id + "/" + secret[:35] + " ", false},
		15: {" " + id + "/" + secret, false},
		16: {id + "//" + secret[:35], false},
		17: {"abcdefghijk\xff/" + secret, false},
	}
	for i, tc := range tests {
		gotID, gotSecret, err := core.ParseKey(tc.in)
		if tc.wantOK {
			if err != nil || gotID+"/"+gotSecret != tc.in {
				t.Errorf("%d: ParseKey(%q) = %q, %q, %v; want its halves", i, tc.in, gotID, gotSecret, err)
			}
			continue
		}
		if !errors.Is(err, core.ErrInvalid) {
			t.Errorf("%d: ParseKey(%q) error = %v, want ErrInvalid", i, tc.in, err)
			continue
		}
		if gotID != "" || gotSecret != "" {
			t.Errorf("%d: ParseKey(%q) returned halves %q, %q with an error", i, tc.in, gotID, gotSecret)
		}
		if len(tc.in) > 3 && strings.Contains(err.Error(), tc.in) {
			t.Errorf("%d: the error %q repeats the rejected key", i, err)
		}
	}
}

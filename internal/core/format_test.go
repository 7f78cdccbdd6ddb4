package core_test

import (
	"errors"
	"strings"
	"testing"

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

func TestTokenFormat(t *testing.T) {
	const n = 100_000
	seen := make(map[string]struct{}, n)
	for i := range n {
		tok, err := core.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != 24 || core.TokenLen != 24 {
			t.Fatalf("token %d has %d characters, want 24", i, len(tok))
		}
		if !isB64URL(tok) {
			t.Fatalf("token %q is not base64url without padding", tok)
		}
		if !core.ValidToken(tok) {
			t.Fatalf("ValidToken(%q) = false for a fresh token", tok)
		}
		if _, dup := seen[tok]; dup {
			t.Fatalf("token %q repeated after %d tokens", tok, i)
		}
		seen[tok] = struct{}{}
	}
}

func TestTokenHashAndID(t *testing.T) {
	tok, err := core.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	h := core.HashToken(tok)
	if len(h) != 32 {
		t.Fatalf("HashToken gives %d bytes, want 32 (SHA-256)", len(h))
	}
	if string(h) == tok || strings.Contains(string(h), tok) {
		t.Fatal("HashToken returned the token")
	}
	id := core.InviteID(h)
	if len(id) != 12 || !isB64URL(id) || strings.Contains(tok, id) {
		t.Fatalf("InviteID = %q, want 12 base64url characters not taken from the token", id)
	}
	if core.InviteID(core.HashToken(tok)) != id {
		t.Fatal("InviteID is not deterministic")
	}
}

func TestValidToken(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		0: {"abcdefghijklmnopqrstuvwx", true},
		1: {"ABCDEFGHIJKLMNOPQRSTUV-_", true},
		2: {"abcdefghijklmnopqrstuvw", false},   // 23
		3: {"abcdefghijklmnopqrstuvwxy", false}, // 25
		4: {"abcdefghijklmnopqrstuvw+", false},
		5: {"abcdefghijklmnopqrstuvw/", false},
		6: {"abcdefghijklmnopqrstuvw=", false},
		7: {"", false},
		8: {"abcdefghijklmnopqrstuvw\x00", false},
		9: {"abcdefghijklmnopqrstuvwé", false},
	}
	for i, tc := range tests {
		if got := core.ValidToken(tc.in); got != tc.want {
			t.Errorf("%d: ValidToken(%q) = %v, want %v", i, tc.in, got, tc.want)
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

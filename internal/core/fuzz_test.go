package core_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// FuzzParse feeds the parsers of operator and client input: keys, durations, rates and
// usernames. Each either fails with ErrInvalid or returns a value that survives a round
// trip; none panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"AAAAAAAAAAAA/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "a/b", "/", "",
		"3600", "48h", "7d", "2w", "1h30m", "-1", "0", "99999999999999999999d",
		"10/m", "100/1h", "1000/day", "5/0s", "1/", "/m",
		"Juliet", "a b@", "ǅ", "\x00",
		"https://example.com/i?{tokn}", "builtin", "pending", "choir\u202e",
		"disabled", "all", "revoke-invites", "Disable-Accounts", "enable",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if id, secret, err := core.ParseKey(s); err == nil {
			if id+"/"+secret != s || !core.ValidKeyID(id) {
				t.Fatalf("ParseKey(%q) = %q, %q", s, id, secret)
			}
		} else if !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("ParseKey(%q): %v", s, err)
		}
		if d, err := core.ParseDuration(s); err == nil {
			if d <= 0 || d > core.MaxDuration {
				t.Fatalf("ParseDuration(%q) = %v", s, d)
			}
		} else if !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("ParseDuration(%q): %v", s, err)
		}
		if r, err := core.ParseRate(s); err == nil {
			back, err := core.ParseRate(r.String())
			if err != nil || back != r || r.IsZero() || r.Period > core.MaxDuration {
				t.Fatalf("ParseRate(%q) = %+v; round trip %q → %+v, %v", s, r, r.String(), back, err)
			}
		} else if !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("ParseRate(%q): %v", s, err)
		}
		if u, err := core.NormalizeUsername(s); err == nil {
			if again, err := core.NormalizeUsername(u); err != nil || again != u {
				t.Fatalf("NormalizeUsername not idempotent: %q → %q → %q, %v", s, u, again, err)
			}
		} else if !errors.Is(err, core.ErrInvalid) || len(err.Error()) > 200 {
			t.Fatalf("NormalizeUsername(%q): %v", s, err)
		}
		if err := core.CheckLandingPage(s); err != nil && !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("CheckLandingPage(%q): %v", s, err)
		}
		if st, err := core.ParseStatus(s); err == nil {
			if back, err := core.ParseStatus(string(st)); err != nil || back != st {
				t.Fatalf("ParseStatus(%q) = %q", s, st)
			}
		}
		if g, err := core.CheckGroups([]string{s}); err == nil && (len(g) != 1 || g[0] != s) {
			t.Fatalf("CheckGroups(%q) = %q", s, g)
		}
		// The parameter parsers of every edge: a value in bounds, or refusals that name
		// their field and do not echo a huge input.
		field := func(name string, err error) {
			fe := core.FieldErrors(err)
			if !errors.Is(err, core.ErrInvalid) || len(fe) != 1 || fe[0].Field != name || len(err.Error()) > 300 {
				t.Fatalf("%s refusal of %q: %v (%d refusals)", name, s, err, len(fe))
			}
		}
		if d, err := core.ParseTTL(s); err != nil {
			field(core.FieldTTL, err)
		} else if d < 0 || d > core.MaxDuration || d == 0 && strings.TrimSpace(s) != "" {
			t.Fatalf("ParseTTL(%q) = %v", s, d)
		}
		if st, err := core.ParseAccountState(s); err != nil {
			field(core.FieldState, err)
		} else if back, err := core.ParseAccountState(string(st)); err != nil || back != st {
			t.Fatalf("ParseAccountState(%q) = %q", s, st)
		}
		if a, err := core.ParseBulkAction(s); err != nil {
			field(core.FieldAction, err)
		} else if back, err := core.ParseBulkAction(string(a)); err != nil || back != a {
			t.Fatalf("ParseBulkAction(%q) = %q", s, a)
		}
		if err := core.CheckNote(s); err != nil {
			field(core.FieldNote, err)
		}
		if n, err := core.ParseMaxUses(s); err != nil {
			field(core.FieldMaxUses, err)
		} else if n < 0 || n > core.MaxMaxUses {
			t.Fatalf("ParseMaxUses(%q) = %d", s, n)
		}
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		if at, err := core.ParseExpiry(s, now); err != nil {
			field(core.FieldExpiresAt, err)
		} else if at.IsZero() {
			t.Fatalf("ParseExpiry(%q) = the zero time", s)
		}
		inv := core.Invite{Host: "example.com", Kind: core.KindAccount, Username: "juliet", ExpiresAt: time.Now()}
		page := core.LandingPage(s, inv, "tok")
		if strings.Contains(s, "{token}") && strings.Contains(page, "{token}") && !strings.Contains(s, "{token}{token}") {
			// Every placeholder is replaced, except where its own text came from a value.
			t.Fatalf("LandingPage(%q) left a placeholder: %q", s, page)
		}
	})
}

// FuzzToken feeds the token parser: a string either is no token (TokenID "") or names
// an ID that is a valid ID, the token's first characters for a version 2 token.
func FuzzToken(f *testing.F) {
	for _, s := range []string{
		"-0Ab_cdEFghIJklMNopQRstUVwxYZ0123456", "Ab-_cdEFghIJklMNopQRstUV", "", "-0Ab_cdEFghI",
		"-0Ab_cdEFghIJklMNopQRstUVwxYZ012345=", "-0Ab_cdEFghIJklMNopQRstUVwxYZ01234567",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id := core.TokenID(s)
		switch {
		case id == "" && core.ValidToken(s):
			t.Fatalf("ValidToken(%q) but no TokenID", s)
		case id != "" && (!core.ValidToken(s) || !core.ValidID(id)):
			t.Fatalf("TokenID(%q) = %q", s, id)
		case id != "" && len(s) == core.TokenLen && id != s[:core.IDLen]:
			t.Fatalf("TokenID(%q) = %q, want its first %d characters", s, id, core.IDLen)
		}
		if at, ok := core.IDTime(s); ok && len(s) != core.IDLen {
			t.Fatalf("IDTime(%q) = %v for a string of %d characters", s, at, len(s))
		}
	})
}

// FuzzCursor feeds the cursor parser: it fails with ErrInvalid or returns a position
// whose cursor reads back the same.
func FuzzCursor(f *testing.F) {
	for _, s := range []string{"", "AAAAAAAAAAA", core.Cursor(core.Position{CreatedAt: time.Unix(1900000000, 123000), ID: "-0Ab_cdEFghI"}), "~~~~"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pos, err := core.ParseCursor(s)
		if err != nil {
			if !errors.Is(err, core.ErrInvalid) || len(err.Error()) > 200 {
				t.Fatalf("ParseCursor(%q): %v", s, err)
			}
			return
		}
		back, err := core.ParseCursor(core.Cursor(pos))
		if err != nil || !back.CreatedAt.Equal(pos.CreatedAt) || back.ID != pos.ID || !core.ValidID(pos.ID) {
			t.Fatalf("ParseCursor(%q) = %+v; round trip %+v, %v", s, pos, back, err)
		}
	})
}

// FuzzInvitePatch feeds the JSON merge patch reader: it fails with ErrInvalid or
// returns a patch whose fields are within their bounds.
func FuzzInvitePatch(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"note":"hi"}`, `{"note":null}`, `{"max_uses":3,"expires_at":"2030-01-02T03:04:05Z"}`,
		`{"max_uses":-1}`, `{"max_uses":1e3}`, `{"expires_at":null}`, `{"id":"x"}`, `[1]`, `{"note":"\u202e"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := core.ParseInvitePatch(b)
		if err != nil {
			if !errors.Is(err, core.ErrInvalid) || len(err.Error()) > 300 {
				t.Fatalf("ParseInvitePatch(%q): %v", b, err)
			}
			return
		}
		if p.MaxUses != nil && (*p.MaxUses < 0 || *p.MaxUses > core.MaxMaxUses) {
			t.Fatalf("ParseInvitePatch(%q) gave max_uses %d", b, *p.MaxUses)
		}
	})
}

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
		inv := core.Invite{Host: "example.com", Kind: core.KindAccount, Username: "juliet", ExpiresAt: time.Now()}
		page := core.LandingPage(s, inv, "tok")
		if strings.Contains(s, "{token}") && strings.Contains(page, "{token}") && !strings.Contains(s, "{token}{token}") {
			// Every placeholder is replaced, except where its own text came from a value.
			t.Fatalf("LandingPage(%q) left a placeholder: %q", s, page)
		}
	})
}

package username_test

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/xmpp-invites/invites/internal/username"
)

// FuzzNormalize: Normalize either fails with ErrEmpty or ErrInvalid or returns a
// valid UTF-8 name that normalizes to itself; the skeleton of a name is its own
// skeleton; nothing panics.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"admin", "аdmin", "admın", "ᴀdmin", "ALİCE", "ǅ", "ＪＵＬＩＥＴ", "a@b", "", "\x00", "r00t", "ȷoȷo", "\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := username.Normalize(s)
		if err != nil {
			if !errors.Is(err, username.ErrEmpty) && !errors.Is(err, username.ErrInvalid) {
				t.Fatalf("Normalize(%q): %v", s, err)
			}
			return
		}
		if !utf8.ValidString(n) || len(n) > username.MaxLen {
			t.Fatalf("Normalize(%q) = %q", s, n)
		}
		if again, err := username.Normalize(n); err != nil || again != n {
			t.Fatalf("Normalize not idempotent: %q → %q → %q, %v", s, n, again, err)
		}
		sk := username.Skeleton(n)
		if sk == "" || !utf8.ValidString(sk) {
			t.Fatalf("Skeleton(%q) = %q", n, sk)
		}
		if again := username.Skeleton(sk); again != sk {
			t.Fatalf("Skeleton(%q) = %q, whose skeleton is %q", n, sk, again)
		}
	})
}

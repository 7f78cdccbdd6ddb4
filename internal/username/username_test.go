package username_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/username"
)

func TestNormalize(t *testing.T) {
	for i, tc := range []struct {
		in, want string
		err      error
	}{
		0:  {"juliet", "juliet", nil},
		1:  {"Juliet", "juliet", nil},
		2:  {"ＪＵＬＩＥＴ", "juliet", nil},     // full width
		3:  {"ALİCE", "ali\u0307ce", nil}, // İ lower-cases to i and a combining dot
		4:  {"аdmin", "аdmin", nil},       // Cyrillic а: valid, and distinct
		5:  {"admın", "admın", nil},
		6:  {"ᴀdmin", "ᴀdmin", nil},
		7:  {"o'brien", "", username.ErrInvalid},
		8:  {"a@b", "", username.ErrInvalid},
		9:  {"a b", "", username.ErrInvalid},
		10: {"", "", username.ErrEmpty},
		11: {"\u0000", "", username.ErrInvalid},
		12: {strings.Repeat("a", 1023), strings.Repeat("a", 1023), nil},
		13: {strings.Repeat("a", 1024), "", username.ErrInvalid},
		14: {"ǅ", "", username.ErrInvalid}, // a compatibility character PRECIS disallows
		15: {"a/b", "", username.ErrInvalid},
		16: {"\u202eadmin", "", username.ErrInvalid}, // bidi override
	} {
		got, err := username.Normalize(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%d: Normalize(%q) = %q, %v; want %q, %v", i, tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && len(err.Error()) > 100 {
			t.Errorf("%d: the error is long: %q", i, err)
		}
	}
}

func TestSkeleton(t *testing.T) {
	for i, tc := range []struct {
		a, b string
		same bool
	}{
		0:  {"admin", "аdmin", true}, // Cyrillic а
		1:  {"admin", "admın", true}, // dotless ı
		2:  {"admin", "ᴀdmin", true}, // small capital A
		3:  {"alice", "ALİCE", true}, // i with a combining dot above
		4:  {"admin", "adrnin", true},
		5:  {"root", "r00t", true},
		6:  {"alice", "bob", false},
		7:  {"admin", "admins", false},
		8:  {"paypal", "pаypal", true},
		9:  {"juliet", "ʝuliet", false}, // ʝ has a tail: told apart
		10: {"jojo", "ȷoȷo", true},      // dotless ȷ
		11: {"support", "ꜱupport", true},
		12: {"müller", "muller", false}, // a diaeresis shows
	} {
		a, err := username.Normalize(tc.a)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		b, err := username.Normalize(tc.b)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if same := username.Skeleton(a) == username.Skeleton(b); same != tc.same {
			t.Errorf("%d: Skeleton(%q) = %q, Skeleton(%q) = %q; same: %v, want %v", i,
				a, username.Skeleton(a), b, username.Skeleton(b), same, tc.same)
		}
	}
}

func TestSet(t *testing.T) {
	s, err := username.NewSet("admin", "Root", "support")
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		name, want string
		ok         bool
	}{
		0: {"admin", "admin", true},
		1: {"аdmin", "admin", true},
		2: {"r00t", "root", true},
		3: {"alice", "", false},
		4: {"ꜱupport", "support", true},
	} {
		n, err := username.Normalize(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := s.LooksLike(n)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%d: LooksLike(%q) = %q, %v; want %q, %v", i, tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if _, err := username.NewSet("ok", "not ok"); err == nil || !strings.Contains(err.Error(), `"not ok"`) {
		t.Errorf("NewSet with a bad name: %v", err)
	}
	var zero username.Set
	if _, ok := zero.LooksLike("admin"); ok || zero.Len() != 0 {
		t.Error("the zero Set is not empty")
	}
	def, err := username.NewSet(username.DefaultReserved()...)
	if err != nil || def.Len() != len(username.DefaultReserved()) {
		t.Errorf("the default reserved names: %d skeletons, %v", def.Len(), err)
	}
}

// BenchmarkNormalizeSkeleton measures what a registration adds: preparing a name
// and computing its skeleton.
func BenchmarkNormalizeSkeleton(b *testing.B) {
	for _, name := range []string{"juliet", "ALİCE", "аdmin"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				n, err := username.Normalize(name)
				if err != nil {
					b.Fatal(err)
				}
				_ = username.Skeleton(n)
			}
		})
	}
}

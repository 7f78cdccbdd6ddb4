package core_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xmpp-invites/invites/internal/core"
)

// FuzzCheckEmail feeds the email address check: an address is accepted only in a form
// the check accepts again unchanged (idempotent), with no space, control or header
// break, at most MaxEmailLen bytes; anything else is refused with ErrInvalid naming
// the email field. None panics.
func FuzzCheckEmail(f *testing.F) {
	for _, s := range []string{"alice@example.org", "Bob <bob@example.org>", "a@b", "@", "a@b.",
		"x@y\r\nBcc: z@w", "\"quoted local\"@example.org", "ü@exämple.org", "a@[192.0.2.1]", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := core.CheckEmail(s)
		if err != nil {
			if fe := core.FieldErrors(err); !errors.Is(err, core.ErrInvalid) || len(fe) != 1 || fe[0].Field != core.FieldEmail {
				t.Fatalf("CheckEmail(%q): %v", s, err)
			}
			return
		}
		if len(got) > core.MaxEmailLen || strings.ContainsAny(got, " \t\r\n") || !strings.Contains(got, "@") {
			t.Fatalf("CheckEmail(%q) = %q", s, got)
		}
		if again, err := core.CheckEmail(got); err != nil || again != got {
			t.Fatalf("CheckEmail(%q) = %q, but again %q, %v", s, got, again, err)
		}
	})
}

// FuzzCheckWelcome feeds the welcome message check: an accepted message is valid
// UTF-8, at most MaxWelcomeLen characters, has only "\n" line breaks and no other
// control character, and is accepted again unchanged.
func FuzzCheckWelcome(f *testing.F) {
	for _, s := range []string{"Welcome!", "a\r\nb", " x \n", "\u202e", "\x00", strings.Repeat("é", 1001), ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := core.CheckWelcome(s)
		if err != nil {
			if !errors.Is(err, core.ErrInvalid) {
				t.Fatalf("CheckWelcome(%q): %v", s, err)
			}
			return
		}
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > core.MaxWelcomeLen || strings.ContainsAny(got, "\r\t\x00") {
			t.Fatalf("CheckWelcome(%q) = %q", s, got)
		}
		if again, err := core.CheckWelcome(got); err != nil || again != got {
			t.Fatalf("CheckWelcome(%q) = %q, but again %q, %v", s, got, again, err)
		}
	})
}

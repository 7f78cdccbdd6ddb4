package mail

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzReply feeds what a relay may answer: the reason kept never holds the
// recipient's address nor anything shaped like one, is bounded, and the code is 0
// or an SMTP failure code.
func FuzzReply(f *testing.F) {
	for _, s := range []string{"550 5.1.1 <bob@example.net>: no such user", "421 4.3.2 try later",
		"dial tcp 127.0.0.1:25: connect: connection refused", "452-4.2.2 mailbox full", "", "5"} {
		f.Add(s, "bob@example.net")
	}
	f.Fuzz(func(t *testing.T, text, address string) {
		if address == "" || strings.ContainsAny(address, " \t\r\n") {
			return
		}
		code, reason := reply(errors.New(text), address)
		if code != 0 && (code < 400 || code > 599) {
			t.Fatalf("reply(%q) code %d", text, code)
		}
		if strings.Contains(address, "@") && strings.Contains(reason, address) {
			t.Fatalf("reply(%q) keeps the address %q: %q", text, address, reason)
		}
		if utf8.RuneCountInString(reason) > 501 && len(reason) > 504 {
			t.Fatalf("reply(%q) is %d bytes", text, len(reason))
		}
	})
}

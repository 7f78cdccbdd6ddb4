package plugin_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/plugin"
)

const tok = "AZx4Qm8_bC-dEf0123456789abcdefghijkl" // 36 characters, as the plugin makes them

func TestInviteToken(t *testing.T) {
	for i, tc := range []struct {
		in, want string
		ok       bool
	}{
		0:  {tok, tok, true},
		1:  {"  " + tok + "\n", tok, true},
		2:  {"https://chat.example.com/invite?" + tok, tok, true},
		3:  {"http://127.0.0.1:5280/invite?" + tok, tok, true},
		4:  {"https://example.com/chat/invite?" + tok, tok, true}, // a base URL with a path
		5:  {"https://example.com/invite/" + tok + "/", tok, true},
		6:  {"https://example.com/register?t=" + tok, tok, true},
		7:  {"xmpp:example.com?register;preauth=" + tok, tok, true},
		8:  {"xmpp:juliet@example.com?register;preauth=" + tok, tok, true},
		9:  {"xmpp:romeo@example.com?roster;preauth=" + tok + ";ibr=y", tok, true},
		10: {"XMPP:example.com?register;PreAuth=" + tok, tok, true},
		11: {"<https://example.com/invite?" + tok + ">", tok, true},
		12: {"abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx", true}, // a token of version 1
		13: {"", "", false},
		14: {"hello", "", false},
		15: {"https://example.com/", "", false},
		16: {"https://example.com/invite", "", false},
		17: {"https://example.com/other?" + tok, "", false},
		18: {"xmpp:example.com?register", "", false},
		19: {"xmpp:example.com", "", false},
		20: {tok + "!", "", false},
		21: {strings.Repeat("a", 129), "", false},
		22: {"xmpp:example.com?register;preauth=%zz", "", false},
		23: {"https://example.com/invite?" + tok + "#top", tok, true},
		24: {"an invite: " + tok, "", false},
		25: {"https://example.com/invite?%41" + tok[1:], "A" + tok[1:], true},
		26: {"xmpp:example.com?register;preauth=" + tok + "#frag", tok, true},
	} {
		got, ok := plugin.InviteToken(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%d: InviteToken(%q) = %q, %v; want %q, %v", i, tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzInviteToken: a token found is base64url of 16 to 128 characters, and is found
// again in each of the three forms of an invite; nothing panics.
func FuzzInviteToken(f *testing.F) {
	for _, s := range []string{tok, "https://example.com/invite?" + tok, "xmpp:a@b?roster;preauth=" + tok + ";ibr=y",
		"https://x/register?t=" + tok, "https://x/invite/" + tok, "", "xmpp:?;=;", "http://[::1", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := plugin.InviteToken(s)
		if !ok {
			if got != "" {
				t.Fatalf("InviteToken(%q) = %q, false", s, got)
			}
			return
		}
		if len(got) < 16 || len(got) > 128 || strings.Trim(got, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			t.Fatalf("InviteToken(%q) = %q", s, got)
		}
		for _, form := range []string{got, "https://example.com/invite?" + got, "xmpp:example.com?register;preauth=" + got} {
			if again, ok := plugin.InviteToken(form); !ok || again != got {
				t.Fatalf("InviteToken(%q) = %q, %v; want %q", form, again, ok, got)
			}
		}
	})
}

func ExampleInviteToken() {
	for _, s := range []string{
		"https://chat.example.com/invite?AZx4Qm8_bC-dEf0123456789abcdefghijkl",
		"xmpp:chat.example.com?register;preauth=AZx4Qm8_bC-dEf0123456789abcdefghijkl",
		" AZx4Qm8_bC-dEf0123456789abcdefghijkl ",
		"my invitation",
	} {
		fmt.Println(plugin.InviteToken(s))
	}
	// Output:
	// AZx4Qm8_bC-dEf0123456789abcdefghijkl true
	// AZx4Qm8_bC-dEf0123456789abcdefghijkl true
	// AZx4Qm8_bC-dEf0123456789abcdefghijkl true
	//  false
}

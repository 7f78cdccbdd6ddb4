package cli

import (
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/core"
)

func TestParseArgs(t *testing.T) {
	for i, tc := range []struct {
		args    []string
		pos     string // words joined by spaces
		opts    string // name=values, sorted as given
		data    string
		wantErr string
	}{
		0:  {args: []string{"keys", "delete", "example.com", "-AbcDefGhiJk"}, pos: "keys delete example.com -AbcDefGhiJk"},
		1:  {args: []string{"keys", "delete", "example.com", "--", "-x"}, pos: "keys delete example.com -x"},
		2:  {args: []string{"-data", "d", "keys", "create", "h", "--manage", "--rate=1/h"}, pos: "keys create h", data: "d", opts: "manage= rate=1/h"},
		3:  {args: []string{"invites", "create", "h", "--group", "a", "-group=b"}, pos: "invites create h", opts: "group=a,b"},
		4:  {args: []string{"invites", "create", "h", "--note", "-AbcDefGhiJk"}, pos: "invites create h", opts: "note=-AbcDefGhiJk"},
		5:  {args: []string{"keys", "list", "h", "--json=1"}, wantErr: "flag --json takes no value"},
		6:  {args: []string{"keys", "list", "h", "--json", "--json"}, wantErr: "flag --json given twice"},
		7:  {args: []string{"keys", "list", "h", "--note", "a", "--note", "b"}, wantErr: "flag --note given twice"},
		8:  {args: []string{"keys", "-"}, pos: "keys -"},
		9:  {args: []string{"keys", "--="}, wantErr: "unknown flag --="},
		10: {args: []string{"keys", "---note", "x"}, wantErr: "unknown flag ---note"},
		11: {args: []string{"--data"}, wantErr: "flag --data needs a value"},
	} {
		p, err := parseArgs(tc.args)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%d: %v, want %q", i, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%d: %v", i, err)
			continue
		}
		var opts []string
		for _, name := range []string{"expires", "group", "json", "manage", "max-ttl", "note", "rate", "reset", "status", "ttl", "username"} {
			if vs, ok := p.opts[name]; ok {
				opts = append(opts, name+"="+strings.Join(vs, ","))
			}
		}
		if got := strings.Join(p.pos, " "); got != tc.pos || strings.Join(opts, " ") != tc.opts || p.g.dataDir != tc.data {
			t.Errorf("%d: pos %q opts %q data %q", i, got, opts, p.g.dataDir)
		}
	}
}

// FuzzParseArgs feeds the command-line parser arbitrary arguments (separated by NUL in
// the input). It must never panic, and what it accepts must keep its promises: a word
// that begins with "-" is an ID or came after "--", options are known, and options
// that may not repeat hold one value at most.
// Seeds are in testdata/fuzz/FuzzParseArgs.
func FuzzParseArgs(f *testing.F) {
	f.Add("keys\x00delete\x00example.com\x00-AbcDefGhiJk")
	f.Fuzz(func(t *testing.T, in string) {
		args := strings.Split(in, "\x00")
		p, err := parseArgs(args)
		if err != nil {
			if !strings.Contains(err.Error(), "flag") {
				t.Fatalf("error %q does not name the flag", err)
			}
			return
		}
		dashdash := false
		for _, a := range args {
			dashdash = dashdash || a == "--"
		}
		for _, w := range p.pos {
			if len(w) > 1 && w[0] == '-' && !dashdash && !core.ValidKeyID(w) && !core.ValidID(w) {
				t.Fatalf("flag-like word %q taken as a word in %q", w, args)
			}
		}
		for name, vs := range p.opts {
			o, ok := options[name]
			switch {
			case !ok:
				t.Fatalf("unknown option %q accepted", name)
			case !o.value && len(vs) != 0:
				t.Fatalf("boolean option %q has values %q", name, vs)
			case o.value && !o.repeat && len(vs) != 1:
				t.Fatalf("option %q has values %q", name, vs)
			}
		}
	})
}

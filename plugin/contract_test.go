package plugin_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/plugin"
)

// TestContractProtocolVersions fails when the doc comment of a method of a contract
// interface does not end with the line "Protocol version: N", N being the version that
// introduced it: at least 2 (version 2 restarted the contract), at most the current one.
func TestContractProtocolVersions(t *testing.T) {
	versionRE := regexp.MustCompile(`^Protocol version: ([0-9]+)$`)
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "contract.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"Invites": false, "HostAPI": false, "AccountAdmin": false, "Messenger": false}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		it, ok := ts.Type.(*ast.InterfaceType)
		if !ok {
			return false
		}
		if _, ok := want[ts.Name.Name]; !ok {
			t.Errorf("contract.go: interface %s is not checked by this test; add it", ts.Name.Name)
			return false
		}
		want[ts.Name.Name] = true
		methods := 0
		for _, m := range it.Methods.List {
			if len(m.Names) == 0 {
				t.Errorf("%s: embedded interface %v in %s: spell its methods out", fset.Position(m.Pos()), m.Type, ts.Name.Name)
				continue
			}
			for _, name := range m.Names {
				methods++
				var sub []string
				if m.Doc != nil {
					lines := strings.Split(strings.TrimSpace(m.Doc.Text()), "\n")
					sub = versionRE.FindStringSubmatch(lines[len(lines)-1])
				}
				if sub == nil {
					t.Errorf("%s: %s.%s: doc comment does not end with \"Protocol version: N\"", fset.Position(name.Pos()), ts.Name.Name, name.Name)
					continue
				}
				if v, err := strconv.Atoi(sub[1]); err != nil || v < 2 || v > plugin.ProtocolVersion {
					t.Errorf("%s: %s.%s: protocol version %s is not between 2 and %d", fset.Position(name.Pos()), ts.Name.Name, name.Name, sub[1], plugin.ProtocolVersion)
				}
			}
		}
		if methods == 0 {
			t.Errorf("%s has no methods", ts.Name.Name)
		}
		return false
	})
	for name, seen := range want {
		if !seen {
			t.Errorf("contract.go: interface %s not found", name)
		}
	}
}

// TestErrorsHaveNoPrefix keeps package prefixes out of the texts users and operators
// read.
func TestErrorsHaveNoPrefix(t *testing.T) {
	for _, err := range []error{
		plugin.ErrInviteNotFound, plugin.ErrInviteExpired, plugin.ErrUsernameNotAllowed,
		plugin.ErrInvalidUsername, plugin.ErrAccountExists, plugin.ErrInvalidPassword,
		plugin.ErrUnavailable,
	} {
		if strings.Contains(err.Error(), ":") {
			t.Errorf("%q has a prefix", err)
		}
	}
}

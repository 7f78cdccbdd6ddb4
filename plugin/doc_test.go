package plugin_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/doctest"
)

// TestDocContract: the table of docs/embedding.md names every method of the contract's
// interfaces (contract.go), each with the protocol version its doc comment ends with,
// and no other.
func TestDocContract(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "contract.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	versionRE := regexp.MustCompile(`Protocol version: ([0-9]+)\s*$`)
	code := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		it, ok := ts.Type.(*ast.InterfaceType)
		if !ok {
			return false
		}
		for _, m := range it.Methods.List {
			for _, name := range m.Names {
				if m.Doc != nil {
					if sub := versionRE.FindStringSubmatch(m.Doc.Text()); sub != nil {
						code[ts.Name.Name+"."+name.Name] = sub[1]
					}
				}
			}
		}
		return false
	})
	if len(code) < 10 {
		t.Fatalf("%d methods found in contract.go", len(code))
	}
	rowRE := regexp.MustCompile("^\\| `([A-Za-z]+\\.[A-Za-z]+)` \\| ([0-9]+) \\|")
	doc := map[string]string{}
	for line := range strings.Lines(doctest.PageAt(t, "docs/embedding.md").Text) {
		if m := rowRE.FindStringSubmatch(line); m != nil {
			doc[m[1]] = m[2]
		}
	}
	for _, name := range slices.Sorted(maps.Keys(code)) {
		switch v, ok := doc[name]; {
		case !ok:
			t.Errorf("docs/embedding.md's table lacks %s (protocol version %s)", name, code[name])
		case v != code[name]:
			t.Errorf("docs/embedding.md says %s is of version %s, contract.go %s", name, v, code[name])
		}
	}
	for name := range doc {
		if _, ok := code[name]; !ok {
			t.Errorf("docs/embedding.md's table names %s, which contract.go does not have", name)
		}
	}
}

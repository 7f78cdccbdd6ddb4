package host_test

import (
	"os"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/doctest"
)

// TestDocQuotesExample: docs/embedding.md quotes the runnable Example of
// example_test.go as it is (its doc comment and its body), so that the code the page
// shows is code this package's tests compile and run.
func TestDocQuotesExample(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(src), "// Example loads")
	end := strings.Index(string(src[start:]), "\n}\n")
	if start < 0 || end < 0 {
		t.Fatal("example_test.go: no Example found")
	}
	example := string(src[start:start+end]) + "\n}\n"
	page := doctest.PageAt(t, "docs/embedding.md")
	for _, b := range doctest.Blocks(page.Text) {
		if b.Lang == "go" && strings.HasPrefix(b.Text, "// Example") {
			if b.Text != example {
				t.Errorf("docs/embedding.md:%d quotes another Example than example_test.go's; quote it again:\n%s", b.Line, example)
			}
			return
		}
	}
	t.Error("docs/embedding.md does not quote the Example of example_test.go")
}

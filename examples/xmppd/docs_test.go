package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/doctest"
)

// TestDocConfigs: every example of xmppd's TOML config in the documentation (README.md
// and docs/*.md: a toml block whose first line names xmppd.toml) is one xmppd takes:
// decoded strictly, then normalized and checked as at its start. The plugin's examples
// are checked by internal/config's TestShippedConfigs.
func TestDocConfigs(t *testing.T) {
	n := 0
	for _, p := range doctest.Pages(t) {
		for _, b := range doctest.Blocks(p.Text) {
			first, _, _ := strings.Cut(b.Text, "\n")
			if b.Lang != "toml" || !strings.HasPrefix(first, "#") || !strings.Contains(first, "xmppd.toml") {
				continue
			}
			n++
			file := filepath.Join(t.TempDir(), "xmppd.toml")
			if err := os.WriteFile(file, []byte(b.Text), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := loadFile(file)
			if err == nil {
				err = c.Normalize()
			}
			if err != nil {
				t.Errorf("%s:%d: the TOML example: %v\n%s", p.Path, b.Line, err, b.Text)
			}
		}
	}
	if n == 0 {
		t.Fatal("no example of xmppd's config in the documentation")
	}
}

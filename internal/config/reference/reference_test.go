package reference_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/config/reference"
)

const samplePkg = "github.com/xmpp-invites/invites/internal/config/reference/testdata/sample"

// sample mirrors testdata/sample.Config, for Check.
type sample struct {
	Name  string
	Count int
	Wait  time.Duration
	Tags  []string
	Inner struct{ On bool }
	Sub   struct{ ID, Note string }
	Items []struct{ ID, Note string }
}

// TestLoad: tables, keys, types, flags and defaults come from the tags and comments,
// doc links to constants written as their values.
func TestLoad(t *testing.T) {
	tables, err := reference.Load(t.Context(), ".", samplePkg, "Config")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	reference.Markdown(&b, "##", tables)
	got := b.String()
	for _, want := range []string{
		"## Top-level keys\n",
		"- **`name`** (flag `-name`): string, default `\"n\"`.\n\n  `name` names it. Default \"n\".\n",
		"- **`count`**: integer, default `3`.\n\n  `count` counts, at most 7. Default 3.\n",
		"- **`wait`**: duration, default `\"1m30s\"` (1 minute 30 seconds).",
		"- **`tags`**: array of strings, default `[\"a\", \"b\"]`.",
		"- **`on`**: boolean, default `false`.\n\n  `on` turns it on, unlike Off.",
		"- **`-switch`**: flag only, boolean.",
		"## `[sub]`\n\n`sub` is a table.\n",
		"## `[[item]]`\n",
		"- **`id`**: string, required.",
		"- **`note`**: string, default nothing at all.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the reference lacks %q:\n%s", want, got)
		}
	}
	if strings.Index(got, "`on`") > strings.Index(got, "[sub]") {
		t.Error("the inline keys are not with the top-level keys")
	}
}

// TestCheck: a comment's default that the code does not fill is an error naming the
// type and the key; a table missing from the value is not checked.
func TestCheck(t *testing.T) {
	tables, err := reference.Load(t.Context(), ".", samplePkg, "Config")
	if err != nil {
		t.Fatal(err)
	}
	good := sample{Name: "n", Count: 3, Wait: 90 * time.Second, Tags: []string{"a", "b"}}
	if err := reference.Check(tables, good); err != nil {
		t.Errorf("the defaults the code fills: %v", err)
	}
	bad := sample{Name: "m", Count: 3, Wait: time.Minute, Tags: []string{"a"}, Inner: struct{ On bool }{true}}
	err = reference.Check(tables, bad)
	for _, want := range []string{
		`sample.Config (key name): the comment says the default is "n", the code fills "m"`,
		`sample.Config (key wait): the comment says the default is "1m30s", the code fills "1m"`,
		`sample.Config (key tags): the comment says the default is ["a", "b"], the code fills ["a"]`,
		`sample.Inner (key on): the comment says the default is false, the code fills true`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

// TestLoadErrors: a field without a toml tag, or whose comment states no default or
// links to what is not a constant, is refused naming it.
func TestLoadErrors(t *testing.T) {
	for i, tc := range [...]struct{ src, want string }{
		0: {"type Config struct {\n\t// A is a. Default 1.\n\tA int\n}\n", "bad.Config.A has no toml tag"},
		1: {"type Config struct {\n\t// A is a.\n\tA int `toml:\"a\"`\n}\n", `bad.Config.A (key a): the comment states no default: write "Default …" or "Required."`},
		2: {"type Config struct {\n\t// A is a. Default [Config].\n\tA int `toml:\"a\"`\n}\n", "bad.Config.A (key a): the default [Config] is not a constant"},
	} {
		// A module of its own, in a temporary directory.
		dir := t.TempDir()
		for name, text := range map[string]string{"go.mod": "module example.com/bad\n\ngo 1.26\n", "bad.go": "package bad\n\n" + tc.src} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		_, err := reference.Load(t.Context(), dir, "example.com/bad", "Config")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d: err = %v, want %q", i, err, tc.want)
		}
	}
}

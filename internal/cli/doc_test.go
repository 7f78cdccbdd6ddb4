package cli_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/doctest"
)

// synopsis reads command lines as the usage and docs/command-line.md write them: a
// line "invites-plugin [FLAGS] WORDS…", a description after two spaces, and lines of
// further options indented below it. It returns each command's words ("keys create",
// "--version") with the flags its lines name.
func synopsis(text string, start *regexp.Regexp) map[string][]string {
	out := map[string][]string{}
	flag := regexp.MustCompile(`--[a-z][a-z-]*`)
	word := regexp.MustCompile(`^[a-z][a-z-]*$`)
	cmd := ""
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\n")
		if m := start.FindStringSubmatch(line); m != nil {
			usage, _, _ := strings.Cut(strings.TrimSpace(m[1]), "  ")
			var words []string
			for i, w := range strings.Fields(usage) {
				if word.MatchString(w) || i == 0 && strings.HasPrefix(w, "--") {
					words = append(words, w)
					continue
				}
				break
			}
			cmd = strings.Join(words, " ")
			out[cmd] = append(out[cmd], flag.FindAllString(strings.Join(strings.Fields(usage)[len(words):], " "), -1)...)
			continue
		}
		if cmd != "" && strings.HasPrefix(strings.TrimSpace(line), "[") && strings.HasPrefix(line, "      ") {
			out[cmd] = append(out[cmd], flag.FindAllString(line, -1)...)
			continue
		}
		cmd = ""
	}
	return out
}

// TestDocSynopsis: the synopsis of docs/command-line.md has every command of the
// usage (invites-plugin help) with every flag the usage gives it, and no command the
// usage lacks.
func TestDocSynopsis(t *testing.T) {
	code, help, _ := runArgs(t, "help")
	if code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	usage := synopsis(help, regexp.MustCompile(`^  invites-plugin (?:\[FLAGS\] )?(.+)$`))
	var doc map[string][]string
	for _, b := range doctest.Blocks(doctest.PageAt(t, "docs/command-line.md").Text) {
		if strings.HasPrefix(b.Text, "invites-plugin ") {
			doc = synopsis(b.Text, regexp.MustCompile(`^invites-plugin (.+)$`))
			break
		}
	}
	if len(usage) < 15 || len(doc) == 0 {
		t.Fatalf("%d commands in the usage, %d in docs/command-line.md's synopsis", len(usage), len(doc))
	}
	for cmd, flags := range usage {
		have, ok := doc[cmd]
		if !ok {
			t.Errorf("docs/command-line.md's synopsis lacks %q", cmd)
			continue
		}
		for _, f := range flags {
			if !slices.Contains(have, f) {
				t.Errorf("docs/command-line.md's synopsis of %q lacks %s", cmd, f)
			}
		}
	}
	for cmd := range doc {
		if _, ok := usage[cmd]; !ok {
			t.Errorf("docs/command-line.md's synopsis has %q, which the usage does not", cmd)
		}
	}
}

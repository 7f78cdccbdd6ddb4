package doctest_test

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/doctest"
)

// goDirs returns the directories of the repository that hold Go files, from its
// root, slash-separated, leaving out testdata and hidden directories; and for each,
// the text of its test files.
func goDirs(t *testing.T) map[string]string {
	t.Helper()
	root, err := doctest.Root()
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if strings.HasSuffix(name, "_test.go") {
			text, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			dirs[rel] += string(text)
		} else {
			dirs[rel] += ""
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// section returns the text of a page's "## title" section.
func section(t *testing.T, page, title string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doctest.PageAt(t, page).Text, "\n## "+title+"\n")
	if !ok {
		t.Fatalf("%s has no section %q", page, title)
	}
	text, _, _ := strings.Cut(rest, "\n## ")
	return text
}

// TestDocFuzzTargets: docs/development.md's fuzzing table names every fuzz target of the
// repository with its package, and no other.
func TestDocFuzzTargets(t *testing.T) {
	inCode := map[string]bool{}
	fuzz := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(`)
	for dir, tests := range goDirs(t) {
		for _, m := range fuzz.FindAllStringSubmatch(tests, -1) {
			inCode[m[1]+" ./"+dir] = true
		}
	}
	inDoc := map[string]bool{}
	for _, m := range regexp.MustCompile("`go test -fuzz=(Fuzz\\w+) (\\./[^`\\s]+)`").FindAllStringSubmatch(section(t, "docs/development.md", "Fuzzing"), -1) {
		inDoc[m[1]+" "+m[2]] = true
	}
	if len(inCode) < 10 {
		t.Fatalf("%d fuzz targets found", len(inCode))
	}
	for _, f := range slices.Sorted(maps.Keys(inCode)) {
		if !inDoc[f] {
			name, pkg, _ := strings.Cut(f, " ")
			t.Errorf("docs/development.md does not list `go test -fuzz=%s %s`", name, pkg)
		}
	}
	for _, f := range slices.Sorted(maps.Keys(inDoc)) {
		if !inCode[f] {
			t.Errorf("docs/development.md lists %s, which is no fuzz target", f)
		}
	}
}

// TestDocLayout: the layout table of docs/development.md names every directory that holds
// Go code: by its path, or in the row of a directory above it by the rest of its path
// or its name (`sqlite/` in the row of `internal/store`).
func TestDocLayout(t *testing.T) {
	var rows [][]string
	tick := regexp.MustCompile("`([^`]+)`")
	for line := range strings.Lines(section(t, "docs/development.md", "Layout")) {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		var tokens []string
		for _, m := range tick.FindAllStringSubmatch(line, -1) {
			tokens = append(tokens, strings.TrimSuffix(m[1], "/"))
		}
		rows = append(rows, tokens)
	}
	named := func(dir string) bool {
		for _, row := range rows {
			if slices.Contains(row, dir) {
				return true
			}
			for parent := dir; strings.Contains(parent, "/"); {
				parent = parent[:strings.LastIndex(parent, "/")]
				rest := strings.TrimPrefix(dir, parent+"/")
				if slices.Contains(row, parent) && (slices.Contains(row, rest) || slices.Contains(row, filepath.Base(dir))) {
					return true
				}
			}
		}
		return false
	}
	dirs := slices.Sorted(maps.Keys(goDirs(t)))
	if len(dirs) < 20 || len(rows) < 10 {
		t.Fatalf("%d directories, %d rows", len(dirs), len(rows))
	}
	for _, dir := range dirs {
		if dir != "." && !named(dir) {
			t.Errorf("docs/development.md's layout does not name %s", dir)
		}
	}
}

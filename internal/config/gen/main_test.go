package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReferenceUpToDate: docs/configuration.md is what the code makes of itself today;
// generating it also fails when a field comment states a default the code does not
// fill (reference.Check on a sample config).
func TestReferenceUpToDate(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	want, err := generate(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "docs", "configuration.md"))
	if err != nil {
		t.Fatalf("%v (make it with: %s)", err, Command)
	}
	if string(got) == want {
		return
	}
	g, w := strings.Split(string(got), "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Fatalf("docs/configuration.md differs from the code from line %d:\n have %q\n want %q\nmake it again with: %s", i+1, gl, wl, Command)
		}
	}
}

// TestGenerateWrites: the command writes the file it is given.
func TestGenerateWrites(t *testing.T) {
	out := filepath.Join(t.TempDir(), "configuration.md")
	if err := run(out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(b), "### `[[webhook]]`") || !strings.Contains(string(b), "(flag `-max-stanza-size`)") {
		t.Errorf("written: %v\n%.300s", err, b)
	}
}

package doctest

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// Page is one Markdown file of the documentation.
type Page struct {
	// Path is the file's path from the module's root, slash-separated, such as
	// "docs/operator.md".
	Path string
	// Text is the file's content.
	Text string
}

// Block is one fenced code block of a page.
type Block struct {
	// Lang is the first word of the fence's info string ("sh", "toml"), "" when none.
	Lang string
	// Text is the block's content, each line ending with a newline.
	Text string
	// Line is the line number of its opening fence, from 1.
	Line int
}

// Link is one inline link or image of a page, outside code.
type Link struct {
	// Target is what the link points to, as written: a URL, a relative path, a path
	// with a "#fragment", or a fragment alone.
	Target string
	// Line is the line number it is on, from 1.
	Line int
}

// Root returns the module's root directory: the nearest directory at or above the
// working directory that holds go.mod.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the module's root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the module's root: no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// Pages returns README.md and every docs/*.md of the module, in that order (the
// docs by name), failing the test when they cannot be read.
func Pages(t testing.TB) []Page {
	t.Helper()
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(docs)
	var pages []Page
	for _, f := range append([]string{filepath.Join(root, "README.md")}, docs...) {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(root, f)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, Page{Path: filepath.ToSlash(rel), Text: string(text)})
	}
	return pages
}

// PageAt returns the page at path (from the module's root, such as "README.md"),
// failing the test when there is none.
func PageAt(t testing.TB, p string) Page {
	t.Helper()
	for _, pg := range Pages(t) {
		if pg.Path == p {
			return pg
		}
	}
	t.Fatalf("no page %s in the documentation", p)
	return Page{}
}

// fence reports whether line opens or closes a fenced code block, returning the
// fence's character run ("```", "~~~~") and the info string that follows it.
func fence(line string) (marker, info string, ok bool) {
	trimmed := strings.TrimLeft(line, " ")
	if len(line)-len(trimmed) > 3 {
		return "", "", false
	}
	for _, c := range []byte{'`', '~'} {
		n := 0
		for n < len(trimmed) && trimmed[n] == c {
			n++
		}
		if n >= 3 {
			return trimmed[:n], strings.TrimSpace(trimmed[n:]), true
		}
	}
	return "", "", false
}

// Blocks returns the fenced code blocks of a Markdown text, in order. A block that
// is never closed runs to the end of the text, as CommonMark has it.
func Blocks(text string) []Block {
	var (
		blocks []Block
		open   string // the opening fence of the block being read
		b      Block
		n      int
	)
	for line := range strings.Lines(text) {
		n++
		marker, info, ok := fence(strings.TrimRight(line, "\r\n"))
		switch {
		case open == "" && ok:
			open = marker
			lang, _, _ := strings.Cut(info, " ")
			b = Block{Lang: lang, Line: n}
		case open != "" && ok && info == "" && marker[0] == open[0] && len(marker) >= len(open):
			blocks = append(blocks, b)
			open = ""
		case open != "":
			if !strings.HasSuffix(line, "\n") {
				line += "\n"
			}
			b.Text += line
		}
	}
	if open != "" {
		blocks = append(blocks, b)
	}
	return blocks
}

// prose returns the lines of a Markdown text outside fenced code blocks, with their
// numbers from 1; inline code spans are blanked out.
func prose(text string) (lines []string, numbers []int) {
	open := ""
	n := 0
	for line := range strings.Lines(text) {
		n++
		line = strings.TrimRight(line, "\r\n")
		marker, info, ok := fence(line)
		switch {
		case open == "" && ok:
			open = marker
			continue
		case open != "":
			if ok && info == "" && marker[0] == open[0] && len(marker) >= len(open) {
				open = ""
			}
			continue
		}
		lines = append(lines, codeSpan.ReplaceAllString(line, "``"))
		numbers = append(numbers, n)
	}
	return lines, numbers
}

// codeSpan matches an inline code span on one line.
var codeSpan = regexp.MustCompile("`[^`]*`")

// heading matches an ATX heading.
var heading = regexp.MustCompile(`^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$`)

// Anchors returns the anchors GitHub gives the headings of a Markdown text: the
// heading's text in lower case, without punctuation, spaces made hyphens; a second
// heading of the same text gets "-1" appended, a third "-2".
func Anchors(text string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	open := ""
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		if marker, info, ok := fence(line); ok {
			switch {
			case open == "":
				open = marker
			case info == "" && marker[0] == open[0] && len(marker) >= len(open):
				open = ""
			}
			continue
		}
		if open != "" {
			continue
		}
		m := heading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		slug := Slug(m[1])
		id := slug
		if k := seen[slug]; k > 0 {
			id = fmt.Sprintf("%s-%d", slug, k)
		}
		seen[slug]++
		anchors[id] = true
	}
	return anchors
}

// Slug is the anchor GitHub makes of a heading's text: links are reduced to their
// text, letters lower-cased, every character but letters, digits, spaces, hyphens
// and underscores dropped, and spaces made hyphens.
func Slug(heading string) string {
	heading = inlineLink.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// inlineLink matches an inline link or image, capturing its text and its target
// (without a title).
var inlineLink = regexp.MustCompile(`!?\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)

// Links returns the inline links and images of a Markdown text, outside code blocks
// and code spans, in order.
func Links(text string) []Link {
	var links []Link
	lines, numbers := prose(text)
	for i, line := range lines {
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			links = append(links, Link{Target: m[2], Line: numbers[i]})
		}
	}
	return links
}

// Relative reports whether a link's target is within the repository (a path or a
// fragment), not a URL or an e-mail address.
func (l Link) Relative() bool {
	return l.Target != "" && !strings.Contains(l.Target, "://") && !strings.HasPrefix(l.Target, "mailto:")
}

// Resolve splits a relative link of the page at pagePath into the file it points to
// (from the module's root, slash-separated; pagePath itself for a fragment alone)
// and its fragment.
func (l Link) Resolve(pagePath string) (file, fragment string) {
	target, fragment, _ := strings.Cut(l.Target, "#")
	if target == "" {
		return pagePath, fragment
	}
	return path.Clean(path.Join(path.Dir(pagePath), target)), fragment
}

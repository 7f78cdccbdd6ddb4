package commands

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/internal/core"
)

// This file holds what the key and invite lists share: a page of a list, bounded so
// that a response stays well under a server's stanza limit (xmppd's max_stanza_size is
// 256 KiB by default) and a client that sends a page's fields back with next (every
// client does) stays under what adhoc's decoder accepts of a request (64 KiB of text,
// 4,096 tokens); values clipped for the list; and how a page says what it shows.

// The bounds of a page of a list.
const (
	// pageItems is the most entries a page holds: as many as the HTTP API's pages.
	pageItems = core.DefaultListLimit
	// pageBytes bounds the values of a page as they are written in XML (escaped, with
	// their markup), counted by valueSize: a page is at most this plus one entry, an
	// entry being bounded by the clipping below (about 16 KiB at worst, all escaped).
	pageBytes = 32 << 10
	// pageValues bounds the values of a page: a value sent back is 3 XML tokens of
	// the 4,096 the decoder takes.
	pageValues = 900
	// valueOverhead is what valueSize counts for the markup of one value: <value> and
	// </value> take 15 bytes on a stream (where the namespace is declared once), and
	// the markup of the fields is shared by all the entries.
	valueOverhead = 24
)

// Clipping of the values of a list: the full value is what the HTTP API and the
// command line show ("invites show", "keys list").
const (
	// clipText bounds a free text (a note, a key's name, groups), in characters.
	clipText = 100
	// clipName bounds a name (a JID, a username, a creator), in characters: less than
	// a line of an entry, so that it is never cut across lines.
	clipName = entryWidth - 4
	// usersInLine and usersInColumn are how many of the accounts that used an invite
	// a list names, in the entry's lines and in its used-by column; the rest are
	// counted ("and 997 more").
	usersInLine   = 3
	usersInColumn = 10
)

// clip cuts s to at most n characters, ending it with "…" when it was longer.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// summary names the first n of names, each clipped, and counts the rest.
func summary(names []string, n int) string {
	shown := make([]string, 0, min(n, len(names)))
	for _, s := range names[:min(n, len(names))] {
		shown = append(shown, clip(s, clipName))
	}
	out := strings.Join(shown, ", ")
	if more := len(names) - len(shown); more > 0 {
		out += fmt.Sprintf(" and %d more", more)
	}
	return out
}

// valueSize is what one value of a field counts against pageBytes: its length once
// escaped for XML, at most 5 bytes per byte, and its markup.
func valueSize(v string) int {
	n := valueOverhead
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '&', '<', '>', '"', '\'', '\t', '\n', '\r':
			n += 5
		default:
			n++
		}
	}
	return n
}

// listPage is one page of a list as the commands answer one: a single-item form
// (no XEP-0004 table, which profanity and poezio show as a title only and Gajim fails
// on) with a fixed field "page" saying which entries are shown, a text-multi field
// for people with a few short lines per entry (see entryLines), and a text-multi field
// per column with one value per entry, in the same order, "-" when empty, for
// programs.
type listPage struct {
	lines  adhoc.Field
	cols   []adhoc.Field
	n      int // entries
	size   int // valueSize of every value
	values int
}

// newListPage starts a page whose field for people is v with label, and whose
// columns are cols (var and label).
func newListPage(v, label string, cols [][2]string) *listPage {
	p := &listPage{lines: adhoc.Field{Var: v, Type: adhoc.FieldTextMulti, Label: label}}
	for _, col := range cols {
		p.cols = append(p.cols, adhoc.Field{Var: col[0], Type: adhoc.FieldTextMulti, Label: col[1]})
	}
	return p
}

// add adds an entry, its lines for people and its row of column values, if the page
// has room for it; the first entry always fits.
func (p *listPage) add(lines, row []string) bool {
	size := 0
	for _, v := range lines {
		size += valueSize(v)
	}
	for i := range row {
		row[i] = cell(row[i])
		size += valueSize(row[i])
	}
	values := len(lines) + len(row)
	if p.n > 0 && (p.n >= pageItems || p.size+size > pageBytes || p.values+values > pageValues) {
		return false
	}
	p.lines.Values = append(p.lines.Values, lines...)
	for i, v := range row {
		p.cols[i].Values = append(p.cols[i].Values, v)
	}
	p.n++
	p.size += size
	p.values += values
	return true
}

// form returns the page as a result form, saying at its top which entries it shows.
func (p *listPage) form(title, instructions, shows string) *adhoc.Form {
	f := &adhoc.Form{
		Type:   adhoc.FormResult,
		Title:  title,
		Fields: append([]adhoc.Field{{Var: "page", Type: adhoc.FieldFixed, Values: []string{shows}}, p.lines}, p.cols...),
	}
	if instructions != "" {
		f.Instructions = []string{instructions}
	}
	return f
}

// pageText says which entries of a list a page shows, numbered from 1: "3 keys" when
// it shows them all, else "Keys 21–40 of 341; Next shows more" (total < 0 when it is
// not known), the last page saying so.
func pageText(noun string, first, n, total int, more bool) string {
	if first == 1 && !more {
		return plural(int64(n), noun) + "."
	}
	s := fmt.Sprintf("%s %d–%d", upperFirst(noun)+"s", first, first+n-1)
	if total >= 0 {
		s += " of " + strconv.Itoa(total)
	}
	if more {
		return s + "; Next shows more."
	}
	return s + ", the last."
}

// upperFirst writes s with its first letter upper-case.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// The page of a list a session shows is named "OFFSET:CURSOR": the number of the
// entries before it, and where it starts in the list's own terms.

// pageName names the page that starts after offset entries, at cursor.
func pageName(offset int, cursor string) string { return strconv.Itoa(offset) + ":" + cursor }

// parsePage reads a page name; "" is the first page.
func parsePage(s string) (offset int, cursor string, err error) {
	if s == "" {
		return 0, "", nil
	}
	o, cursor, ok := strings.Cut(s, ":")
	offset, err = strconv.Atoi(o)
	if !ok || err != nil || offset < 0 {
		return 0, "", fmt.Errorf("malformed list page %q", s)
	}
	return offset, cursor, nil
}

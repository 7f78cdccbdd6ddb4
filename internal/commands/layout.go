package commands

import (
	"strconv"
	"strings"

	"github.com/xmpp-invites/invites/adhoc"
)

// This file lays responses out for the clients people use, as each shows them (see
// the README's ad-hoc section and the notes on clients): what the session engine
// answers is plain XEP-0050, and layout adapts it once, for every command.

// layout adapts a response to the clients:
//
//   - A response with a form (a stage, a page of a list, a result) carries its notes
//     as fixed fields at the top of the form, and no <note/>: poezio shows no notes
//     beside a form, profanity none while a command executes, and Gajim and Psi+,
//     which show both, would show each note twice.
//     A response without a form keeps its <note/>s, which every client shows.
//   - An error note that begins with a field's var and a colon ("rate: …") names the
//     field by its label instead ("Rate limit: …"): people see labels, never vars.
//   - A list field whose value is one of its options' labels (Gajim submits labels,
//     and a refused form is shown again with what was submitted) gets the option's
//     value back, so that the option shows as chosen.
//
// Tables (<reported/>) are left as they are: no command sends one.
func layout(resp adhoc.Response) adhoc.Response {
	if resp.Form == nil || len(resp.Form.Reported) > 0 {
		return resp
	}
	f := withValues(resp.Form)
	var notes []noteLines
	for _, n := range resp.Notes {
		text := n.Text
		if n.Type == adhoc.NoteError {
			text = fieldReason(text, f)
		}
		notes = append(notes, noteLines{n.Type, text})
	}
	resp.Form = withFixedText(f, notes)
	resp.Notes = nil
	return resp
}

// noteLines is a note to write as fixed fields.
type noteLines struct {
	typ  adhoc.NoteType
	text string
}

// fixedVar is the prefix of the var of a fixed field that stands for a note of type
// t: "error-1", "warning-2", "note-3". The var says nothing to people; it tells
// programs the note's type, and keeps the fields apart for clients that keep a
// form's fields by var (slixmpp, so poezio).
func fixedVar(t adhoc.NoteType) string {
	switch t {
	case adhoc.NoteError:
		return "error-"
	case adhoc.NoteWarn:
		return "warning-"
	}
	return "note-"
}

// fieldReason writes a reason that begins with a field's var ("rate: …") with the
// field's label instead ("Rate limit: …").
func fieldReason(text string, f *adhoc.Form) string {
	v, rest, ok := strings.Cut(text, ": ")
	if !ok {
		return text
	}
	for _, fl := range f.Fields {
		if fl.Var == v && fl.Label != "" && fl.Type != adhoc.FieldHidden {
			return fl.Label + ": " + rest
		}
	}
	return text
}

// withValues returns f with each value of a list field that is one of its options'
// labels, and none of their values, replaced by that option's value.
func withValues(f *adhoc.Form) *adhoc.Form {
	out := *f
	out.Fields = append([]adhoc.Field(nil), f.Fields...)
	for j, fl := range out.Fields {
		if fl.Type != adhoc.FieldListSingle && fl.Type != adhoc.FieldListMulti || len(fl.Values) == 0 {
			continue
		}
		vals := make([]string, len(fl.Values))
		for k, v := range fl.Values {
			if o, ok := optionByLabel(fl.Options, v); ok {
				v = o.Value
			}
			vals[k] = v
		}
		out.Fields[j].Values = vals
	}
	return &out
}

// optionByLabel returns the option labelled v, unless v is an option's value.
func optionByLabel(opts []adhoc.Option, v string) (adhoc.Option, bool) {
	var found adhoc.Option
	ok := false
	for _, o := range opts {
		if o.Value == v {
			return adhoc.Option{}, false
		}
		if !ok && o.Label == v {
			found, ok = o, true
		}
	}
	return found, ok
}

// fixedWidth is the longest line of the fixed fields a note is cut into: poezio
// shows a fixed field in half its window, cutting what does not fit.
const fixedWidth = 50

// fixedHeading is the length below which Gajim shows a fixed field as a section
// heading (bold, in the label column) rather than as text: shorter lines are padded
// with spaces to it.
const fixedHeading = 40

// withFixedText returns a copy of f with notes at its top (after a FORM_TYPE) as
// fixed fields, each cut at spaces into lines of at most fixedWidth characters, as
// even as can be, a line shorter than fixedHeading padded with spaces to it; the
// fields' vars are those of fixedVar, numbered from 1 past any var f has.
func withFixedText(f *adhoc.Form, notes []noteLines) *adhoc.Form {
	used := make(map[string]bool, len(f.Fields))
	for _, fl := range f.Fields {
		used[fl.Var] = true
	}
	var fixed []adhoc.Field
	n := map[string]int{}
	for _, note := range notes {
		prefix := fixedVar(note.typ)
		for _, line := range wrap(note.text, fixedWidth) {
			if l := len([]rune(line)); l < fixedHeading {
				line += strings.Repeat(" ", fixedHeading-l)
			}
			v := ""
			for v == "" || used[v] {
				n[prefix]++
				v = prefix + strconv.Itoa(n[prefix])
			}
			used[v] = true
			fixed = append(fixed, adhoc.Field{Var: v, Type: adhoc.FieldFixed, Values: []string{line}})
		}
	}
	if len(fixed) == 0 {
		return f
	}
	at := 0
	if len(f.Fields) > 0 && f.Fields[0].Var == "FORM_TYPE" {
		at = 1
	}
	out := *f
	out.Fields = make([]adhoc.Field, 0, len(f.Fields)+len(fixed))
	out.Fields = append(out.Fields, f.Fields[:at]...)
	out.Fields = append(out.Fields, fixed...)
	out.Fields = append(out.Fields, f.Fields[at:]...)
	return &out
}

// wrap cuts s into lines of at most n runes at spaces (a longer word stays whole),
// in as few lines as that takes and as even as can be: "such as 10/m, 100/1h or
// 1000/day" rather than a full line and a short one.
func wrap(s string, n int) []string {
	words := strings.Fields(s)
	total := len([]rune(strings.Join(words, " ")))
	if total == 0 {
		return nil
	}
	lines := greedy(words, n)
	// The narrowest width that still takes no more lines.
	for w := (total + len(lines) - 1) / len(lines); w < n; w++ {
		if l := greedy(words, w); len(l) == len(lines) {
			return l
		}
	}
	return lines
}

// greedy fills lines of at most n runes with words, in order.
func greedy(words []string, n int) []string {
	var lines []string
	var line []rune
	for _, w := range words {
		rw := []rune(w)
		if len(line) > 0 && len(line)+1+len(rw) > n {
			lines = append(lines, string(line))
			line = nil
		}
		if len(line) > 0 {
			line = append(line, ' ')
		}
		line = append(line, rw...)
	}
	if len(line) > 0 {
		lines = append(lines, string(line))
	}
	return lines
}

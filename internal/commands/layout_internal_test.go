package commands

import (
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/adhoc"
)

// TestLayout covers what people see of a response in the clients that show only some
// of it: poezio shows fixed fields but neither notes nor instructions, profanity no
// notes while a command executes, Gajim and Psi+ both notes and fixed fields. Each
// note is shown once: as fixed fields where there is a form, as a note where there is
// none.
func TestLayout(t *testing.T) {
	long := "n: write a whole number of accounts, from 1 to 1000000, or 0 for any number until the invite expires"
	which := adhoc.Field{Var: "which", Type: adhoc.FieldListSingle, Label: "Which",
		Options: []adhoc.Option{{Label: "First one (1)", Value: "1"}, {Label: "Gone (2)", Value: "2"}, {Label: "1", Value: "3"}}}
	chosen := func(v string) adhoc.Field { f := which; f.Values = []string{v}; return f }
	for i, tc := range []struct {
		resp   adhoc.Response
		fields string // var=value|…, padding trimmed
		notes  string // type:text|…
	}{
		0: { // no form: the notes stay notes
			resp:  adhoc.Response{Status: adhoc.StatusCompleted, Notes: []adhoc.Note{{Type: adhoc.NoteInfo, Text: "Deleted 1 key."}}},
			notes: "info:Deleted 1 key.",
		},
		1: { // a refusal: the reason once, at the top, naming the field by its label
			resp: adhoc.Response{Status: adhoc.StatusExecuting, Notes: []adhoc.Note{{Type: adhoc.NoteError, Text: "which: no such thing"}},
				Form: &adhoc.Form{Type: adhoc.FormForm, Fields: []adhoc.Field{chosen("Gone (2)")}}},
			// The label a client submitted (Gajim) turned back into its value.
			fields: "error-1=Which: no such thing|which=2",
		},
		2: { // a result: after its FORM_TYPE, each type under its own vars
			resp: adhoc.Response{Status: adhoc.StatusCompleted, Notes: []adhoc.Note{{Type: adhoc.NoteWarn, Text: "Keep it."}, {Type: adhoc.NoteInfo, Text: "It is yours."}},
				Form: &adhoc.Form{Type: adhoc.FormResult, Fields: []adhoc.Field{
					{Var: "FORM_TYPE", Type: adhoc.FieldHidden, Values: []string{"urn:example"}}, {Var: "note-1", Values: []string{"mine"}}}}},
			fields: "FORM_TYPE=urn:example|warning-1=Keep it.|note-2=It is yours.|note-1=mine",
		},
		3: { // a value that is both a label and another option's value stays
			resp:   adhoc.Response{Status: adhoc.StatusExecuting, Form: &adhoc.Form{Type: adhoc.FormForm, Fields: []adhoc.Field{chosen("1")}}},
			fields: "which=1",
		},
		4: { // a table is left alone
			resp: adhoc.Response{Status: adhoc.StatusCompleted, Notes: []adhoc.Note{{Type: adhoc.NoteInfo, Text: "t"}},
				Form: &adhoc.Form{Type: adhoc.FormResult, Reported: []adhoc.Field{{Var: "a"}}}},
			notes: "info:t",
		},
	} {
		got := layout(tc.resp)
		var fields, notes []string
		if got.Form != nil {
			for _, fl := range got.Form.Fields {
				fields = append(fields, fl.Var+"="+strings.TrimRight(strings.Join(fl.Values, ","), " "))
			}
		}
		for _, n := range got.Notes {
			notes = append(notes, string(n.Type)+":"+n.Text)
		}
		if f, n := strings.Join(fields, "|"), strings.Join(notes, "|"); f != tc.fields || n != tc.notes {
			t.Errorf("%d: fields %q notes %q, want %q and %q", i, f, n, tc.fields, tc.notes)
		}
	}

	// A long reason comes in fixed fields of 40 to 50 characters (Gajim shows a
	// shorter one as a heading: padded with spaces), cut at spaces, as even as can be,
	// in order.
	got := layout(adhoc.Response{Status: adhoc.StatusExecuting, Notes: []adhoc.Note{{Type: adhoc.NoteError, Text: long}},
		Form: &adhoc.Form{Type: adhoc.FormForm, Fields: []adhoc.Field{{Var: "n", Type: adhoc.FieldTextSingle, Label: "Accounts", Values: []string{"many"}}}}})
	var lines []string
	for _, fl := range got.Form.Fields {
		if fl.Type == adhoc.FieldFixed {
			if n := len([]rune(fl.Values[0])); n > fixedWidth || n < fixedHeading {
				t.Errorf("fixed line %q is %d characters long", fl.Values[0], n)
			}
			lines = append(lines, strings.TrimRight(fl.Values[0], " "))
		}
	}
	if short := len([]rune(lines[len(lines)-1])); short < 30 {
		t.Errorf("uneven lines: %q", lines)
	}
	if want := "Accounts" + strings.TrimPrefix(long, "n"); strings.Join(lines, " ") != want || len(lines) < 3 || len(got.Notes) != 0 || got.Form.Value("n") != "many" {
		t.Fatalf("refused value: lines %q, notes %+v", lines, got.Notes)
	}
}

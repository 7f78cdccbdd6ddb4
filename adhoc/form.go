package adhoc

import "strconv"

// FormType is the type of an XEP-0004 data form.
type FormType string

// The form types of XEP-0004.
const (
	FormForm   FormType = "form"
	FormSubmit FormType = "submit"
	FormCancel FormType = "cancel"
	FormResult FormType = "result"
)

// FieldType is the type of an XEP-0004 field.
type FieldType string

// The field types of XEP-0004.
const (
	FieldBoolean     FieldType = "boolean"
	FieldFixed       FieldType = "fixed"
	FieldHidden      FieldType = "hidden"
	FieldJIDMulti    FieldType = "jid-multi"
	FieldJIDSingle   FieldType = "jid-single"
	FieldListMulti   FieldType = "list-multi"
	FieldListSingle  FieldType = "list-single"
	FieldTextMulti   FieldType = "text-multi"
	FieldTextPrivate FieldType = "text-private"
	FieldTextSingle  FieldType = "text-single"
)

// Form is an XEP-0004 data form, including result tables.
type Form struct {
	Type         FormType
	Title        string
	Instructions []string
	Fields       []Field
	// Reported defines the columns of a result table; Items are its rows.
	Reported []Field
	Items    [][]Field
}

// Field is one field of a form, or one cell of a table row.
type Field struct {
	Var      string
	Type     FieldType
	Label    string
	Desc     string
	Required bool
	Values   []string
	Options  []Option
}

// Option is one choice of a list field.
type Option struct {
	Label string
	Value string
}

// Field returns the first field named v, and whether there is one.
func (f *Form) Field(v string) (Field, bool) {
	if f == nil {
		return Field{}, false
	}
	for _, fl := range f.Fields {
		if fl.Var == v {
			return fl, true
		}
	}
	return Field{}, false
}

// Value returns the first value of the field named v, or "".
func (f *Form) Value(v string) string {
	fl, ok := f.Field(v)
	if !ok || len(fl.Values) == 0 {
		return ""
	}
	return fl.Values[0]
}

// The rules.
//
// Validate on Form, Request and Response is the one place that says what this package
// accepts: the XML decoders apply it to what they read, and an Executor to forms
// that reached it any other way (such as across the plugin boundary), so a form is
// held to the same rules whichever way it came.

// Validate checks f against lim (zero fields mean the defaults) and XEP-0004: a known
// form type, known field types, a var on every field but fixed ones (and but those
// of a submitted form, see validateFields), no var twice,
// at most one value in single-valued fields, and the bounds of lim.
// A failure is a bad-payload *Error saying what is wrong.
func (f *Form) Validate(lim Limits) error {
	lim = lim.withDefaults()
	switch f.Type {
	case FormForm, FormSubmit, FormCancel, FormResult:
	default:
		return badPayload("unknown form type")
	}
	if len(f.Title) > lim.MaxValueLen {
		return badPayload("title too long")
	}
	if len(f.Instructions) > lim.MaxValues {
		return badPayload("too many instructions")
	}
	for _, s := range f.Instructions {
		if len(s) > lim.MaxValueLen {
			return badPayload("instructions too long")
		}
	}
	if err := validateFields(f.Fields, lim, f.Type == FormSubmit); err != nil {
		return err
	}
	if len(f.Reported) == 0 && len(f.Items) > 0 {
		return badPayload("table items without reported fields")
	}
	if err := validateFields(f.Reported, lim, false); err != nil {
		return err
	}
	if len(f.Items) > lim.MaxItems {
		return badPayload("too many table items")
	}
	for _, row := range f.Items {
		if err := validateFields(row, lim, false); err != nil {
			return err
		}
	}
	return nil
}

// validateFields checks fields; in a submitted form (submitted), a field without a
// var is let through, to be ignored: poezio shows a response's notes as fixed fields
// it adds without a var, and submits them back without their type.
func validateFields(fs []Field, lim Limits, submitted bool) error {
	if len(fs) > lim.MaxFields {
		return badPayload("too many fields")
	}
	if len(fs) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(fs))
	for _, fl := range fs {
		if !validFieldType(fl.Type) {
			return badPayload("unknown field type")
		}
		if len(fl.Var) > lim.MaxValueLen || len(fl.Label) > lim.MaxValueLen {
			return badPayload("field var or label too long")
		}
		if fl.Var == "" && fl.Type != FieldFixed && !submitted {
			return badPayload("field without var")
		}
		if fl.Var != "" {
			if seen[fl.Var] {
				return badPayload("duplicate field " + strconv.Quote(truncate(fl.Var, 64)))
			}
			seen[fl.Var] = true
		}
		if len(fl.Desc) > lim.MaxValueLen {
			return badPayload("field description too long")
		}
		if len(fl.Values) > lim.MaxValues || len(fl.Options) > lim.MaxValues {
			return badPayload("too many values")
		}
		if len(fl.Values) > 1 && singleValued(fl.Type) {
			return badPayload("more than one value in a single-valued field")
		}
		for _, v := range fl.Values {
			if len(v) > lim.MaxValueLen {
				return badPayload("value too long")
			}
		}
		for _, o := range fl.Options {
			if len(o.Label) > lim.MaxValueLen || len(o.Value) > lim.MaxValueLen {
				return badPayload("option too long")
			}
		}
	}
	return nil
}

func validFieldType(t FieldType) bool {
	switch t {
	case "", FieldBoolean, FieldFixed, FieldHidden, FieldJIDMulti, FieldJIDSingle,
		FieldListMulti, FieldListSingle, FieldTextMulti, FieldTextPrivate, FieldTextSingle:
		return true
	}
	return false
}

// singleValued reports whether XEP-0004 allows at most one value in a field of type t.
func singleValued(t FieldType) bool {
	switch t {
	case FieldBoolean, FieldHidden, FieldJIDSingle, FieldListSingle, FieldTextPrivate, FieldTextSingle:
		return true
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// maxLangLen bounds an xml:lang attribute, in bytes.
const maxLangLen = 64

// Validate checks a request as a requester sent it: a known action (malformed-action
// otherwise), a session id of at most MaxSessionIDLen bytes (bad-sessionid), a
// plausible xml:lang (bad-locale), and a form, if any, that follows Form.Validate, is
// of type submit or cancel and holds no table (bad-payload).
// Role and Requester are the host's word and are not checked.
func (r Request) Validate(lim Limits) error {
	lim = lim.withDefaults()
	switch r.Action {
	case "", ActionExecute, ActionNext, ActionPrev, ActionComplete, ActionCancel:
	default:
		return &Error{Condition: CondMalformedAction, Text: "unknown action"}
	}
	if len(r.SessionID) > MaxSessionIDLen {
		return &Error{Condition: CondBadSessionID, Text: "session id too long"}
	}
	if len(r.Node) > lim.MaxValueLen {
		return badPayload("node too long")
	}
	if len(r.Lang) > maxLangLen {
		return &Error{Condition: CondBadLocale, Text: "malformed xml:lang"}
	}
	if r.Form == nil {
		return nil
	}
	if err := r.Form.Validate(lim); err != nil {
		return err
	}
	if r.Form.Type != FormSubmit && r.Form.Type != FormCancel {
		return badPayload("a submitted form must be of type submit or cancel")
	}
	if len(r.Form.Reported) > 0 || len(r.Form.Items) > 0 {
		return badPayload("a submitted form cannot hold a table")
	}
	return nil
}

// Validate checks a response as a responder sent it: a known status, known actions
// (prev, next or complete; DefaultAction may also be empty), known note types, the bounds of
// lim, and a form, if any, that follows Form.Validate.
// A failure is a bad-payload *Error.
func (r Response) Validate(lim Limits) error {
	lim = lim.withDefaults()
	switch r.Status {
	case StatusExecuting, StatusCompleted, StatusCanceled:
	default:
		return badPayload("unknown status")
	}
	if len(r.SessionID) > MaxSessionIDLen {
		return badPayload("session id too long")
	}
	if len(r.Node) > lim.MaxValueLen {
		return badPayload("node too long")
	}
	for _, a := range r.Actions {
		switch a {
		case ActionPrev, ActionNext, ActionComplete:
		default:
			return badPayload("unknown action")
		}
	}
	switch r.DefaultAction {
	case "", ActionPrev, ActionNext, ActionComplete:
	default:
		return badPayload("unknown execute action")
	}
	if len(r.Notes) > lim.MaxNotes {
		return badPayload("too many notes")
	}
	for _, n := range r.Notes {
		switch n.Type {
		case "", NoteInfo, NoteWarn, NoteError:
		default:
			return badPayload("unknown note type")
		}
		if len(n.Text) > lim.MaxValueLen {
			return badPayload("note too long")
		}
	}
	if r.Form != nil {
		return r.Form.Validate(lim)
	}
	return nil
}

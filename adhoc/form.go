package adhoc

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

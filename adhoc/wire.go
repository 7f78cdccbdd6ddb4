package adhoc

import (
	"encoding/xml"
	"errors"
	"io"
	"strconv"

	"mellium.im/xmlstream"
)

// Namespaces of the elements this package reads and writes.
const (
	// NS is the namespace of XEP-0050 ad-hoc commands.
	NS = "http://jabber.org/protocol/commands"
	// NSData is the namespace of XEP-0004 data forms.
	NSData = "jabber:x:data"
	// nsXML is the namespace of the xml: prefix (xml:lang).
	nsXML = "http://www.w3.org/XML/1998/namespace"
)

// Defaults for the zero fields of Limits.
const (
	// DefaultMaxBytes bounds the text of one element: 64 KiB.
	DefaultMaxBytes = 64 << 10
	// DefaultMaxTokens bounds the XML tokens of one element.
	DefaultMaxTokens = 4096
	// DefaultMaxDepth bounds element nesting; a table cell's value is at depth 5.
	DefaultMaxDepth = 8
	// DefaultMaxFields bounds the fields of a form.
	DefaultMaxFields = 64
	// DefaultMaxValues bounds the values of a field, enough to pick many keys.
	DefaultMaxValues = 1024
	// DefaultMaxValueLen bounds one value, in bytes.
	DefaultMaxValueLen = 4096
	// DefaultMaxItems bounds the rows of a table.
	DefaultMaxItems = 1024
	// DefaultMaxNotes bounds the notes of a response.
	DefaultMaxNotes = 16
)

// MaxSessionIDLen bounds the sessionid attribute a decoder accepts, in bytes.
const MaxSessionIDLen = 128

// Limits bound what the decoders accept, so that a hostile requester cannot make them
// hold much memory or work: a request that exceeds a limit is refused with bad-payload.
// Each zero field means its default.
type Limits struct {
	// MaxBytes bounds the character data and attribute values of one element, in
	// bytes; default DefaultMaxBytes (64 KiB).
	MaxBytes int
	// MaxTokens bounds the XML tokens of one element; default DefaultMaxTokens.
	MaxTokens int
	// MaxDepth bounds the nesting of elements, counting the outermost as 1; default
	// DefaultMaxDepth.
	MaxDepth int
	// MaxFields bounds the fields of a form and the cells of a table row; default
	// DefaultMaxFields.
	MaxFields int
	// MaxValues bounds the values and the options of one field, and the
	// instructions of a form; default DefaultMaxValues.
	MaxValues int
	// MaxValueLen bounds one value, label, var, node or text, in bytes; default
	// DefaultMaxValueLen.
	MaxValueLen int
	// MaxItems bounds the rows of a result table; default DefaultMaxItems.
	MaxItems int
	// MaxNotes bounds the notes of a response; default DefaultMaxNotes.
	MaxNotes int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxBytes, DefaultMaxBytes)
	def(&l.MaxTokens, DefaultMaxTokens)
	def(&l.MaxDepth, DefaultMaxDepth)
	def(&l.MaxFields, DefaultMaxFields)
	def(&l.MaxValues, DefaultMaxValues)
	def(&l.MaxValueLen, DefaultMaxValueLen)
	def(&l.MaxItems, DefaultMaxItems)
	def(&l.MaxNotes, DefaultMaxNotes)
	return l
}

// errTooLarge is what the limiting reader returns; decoders turn it into bad-payload.
var errTooLarge = errors.New("adhoc: element exceeds limits")

// limitReader passes tokens on until a limit is exceeded.
type limitReader struct {
	r      xml.TokenReader
	lim    Limits
	tokens int
	bytes  int
	depth  int
}

func (lr *limitReader) Token() (xml.Token, error) {
	tok, err := lr.r.Token()
	if tok == nil {
		return tok, err
	}
	lr.tokens++
	switch t := tok.(type) {
	case xml.StartElement:
		lr.depth++
		if lr.depth > lr.lim.MaxDepth {
			return nil, errTooLarge
		}
		lr.bytes += len(t.Name.Local)
		for _, a := range t.Attr {
			lr.bytes += len(a.Name.Local) + len(a.Value)
		}
	case xml.EndElement:
		lr.depth--
	case xml.CharData:
		lr.bytes += len(t)
	case xml.Comment:
		lr.bytes += len(t)
	case xml.ProcInst:
		lr.bytes += len(t.Inst)
	case xml.Directive:
		lr.bytes += len(t)
	}
	if lr.tokens > lr.lim.MaxTokens || lr.bytes > lr.lim.MaxBytes {
		return nil, errTooLarge
	}
	return tok, err
}

// Wire forms of the elements, for encoding/xml to decode into.
type (
	wireCommand struct {
		Node      string        `xml:"node,attr"`
		SessionID string        `xml:"sessionid,attr"`
		Action    string        `xml:"action,attr"`
		Status    string        `xml:"status,attr"`
		Lang      string        `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
		Actions   []wireActions `xml:"http://jabber.org/protocol/commands actions"`
		Notes     []wireNote    `xml:"http://jabber.org/protocol/commands note"`
		Forms     []wireForm    `xml:"jabber:x:data x"`
	}
	wireActions struct {
		Execute  string     `xml:"execute,attr"`
		Prev     []struct{} `xml:"http://jabber.org/protocol/commands prev"`
		Next     []struct{} `xml:"http://jabber.org/protocol/commands next"`
		Complete []struct{} `xml:"http://jabber.org/protocol/commands complete"`
	}
	wireNote struct {
		Type string `xml:"type,attr"`
		Text string `xml:",chardata"`
	}
	wireForm struct {
		Type         string         `xml:"type,attr"`
		Title        []string       `xml:"jabber:x:data title"`
		Instructions []string       `xml:"jabber:x:data instructions"`
		Fields       []wireField    `xml:"jabber:x:data field"`
		Reported     []wireReported `xml:"jabber:x:data reported"`
		Items        []wireReported `xml:"jabber:x:data item"`
	}
	wireReported struct {
		Fields []wireField `xml:"jabber:x:data field"`
	}
	wireField struct {
		Var      string       `xml:"var,attr"`
		Type     string       `xml:"type,attr"`
		Label    string       `xml:"label,attr"`
		Desc     []string     `xml:"jabber:x:data desc"`
		Required []struct{}   `xml:"jabber:x:data required"`
		Values   []string     `xml:"jabber:x:data value"`
		Options  []wireOption `xml:"jabber:x:data option"`
	}
	wireOption struct {
		Label  string   `xml:"label,attr"`
		Values []string `xml:"jabber:x:data value"`
	}
)

func badPayload(text string) *Error { return &Error{Condition: CondBadPayload, Text: text} }

// decodeElement reads the element that start opens (or the first element of r when
// start is nil) into v, within lim.
func decodeElement(r xml.TokenReader, start *xml.StartElement, want xml.Name, lim Limits, v any) error {
	if start == nil {
		for {
			tok, err := r.Token()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return badPayload("no element")
				}
				return badPayload("malformed XML")
			}
			if s, ok := tok.(xml.StartElement); ok {
				start = &s
				break
			}
		}
	}
	if start.Name != want {
		return badPayload("unexpected element " + strconv.Quote(start.Name.Local))
	}
	lr := &limitReader{r: xmlstream.MultiReader(xmlstream.Token(*start), r), lim: lim}
	d := xml.NewTokenDecoder(lr)
	if err := d.Decode(v); err != nil {
		if errors.Is(err, errTooLarge) {
			return badPayload("element too large")
		}
		return badPayload("malformed element")
	}
	return nil
}

// DecodeRequest reads a <command xmlns='http://jabber.org/protocol/commands'/> a
// requester sent.
// r yields the tokens after start, as a mellium handler receives them; when start is
// nil the first element of r is read.
// What it reads must follow Request.Validate within lim, and XML that Request cannot
// hold (more than one form) is refused too: failures are *Error values as
// Request.Validate returns them, bad-payload for malformed XML.
// Requester and Role are left empty: only the server knows them.
func DecodeRequest(r xml.TokenReader, start *xml.StartElement, lim Limits) (Request, error) {
	lim = lim.withDefaults()
	var w wireCommand
	if err := decodeElement(r, start, xml.Name{Space: NS, Local: "command"}, lim, &w); err != nil {
		return Request{}, err
	}
	req := Request{Node: w.Node, SessionID: w.SessionID, Lang: w.Lang, Action: Action(w.Action)}
	switch len(w.Forms) {
	case 0:
	case 1:
		f, err := formFromWire(&w.Forms[0])
		if err != nil {
			return Request{}, err
		}
		req.Form = f
	default:
		return Request{}, badPayload("more than one form")
	}
	if err := req.Validate(lim); err != nil {
		return Request{}, err
	}
	return req, nil
}

// DecodeResponse reads a <command/> a responder sent, as a requester (or a test) does.
// What it reads must follow Response.Validate within lim; failures are bad-payload
// *Error values.
func DecodeResponse(r xml.TokenReader, start *xml.StartElement, lim Limits) (Response, error) {
	lim = lim.withDefaults()
	var w wireCommand
	if err := decodeElement(r, start, xml.Name{Space: NS, Local: "command"}, lim, &w); err != nil {
		return Response{}, err
	}
	resp := Response{Node: w.Node, SessionID: w.SessionID, Status: Status(w.Status)}
	switch len(w.Actions) {
	case 0:
	case 1:
		a := w.Actions[0]
		if len(a.Prev) > 0 {
			resp.Actions = append(resp.Actions, ActionPrev)
		}
		if len(a.Next) > 0 {
			resp.Actions = append(resp.Actions, ActionNext)
		}
		if len(a.Complete) > 0 {
			resp.Actions = append(resp.Actions, ActionComplete)
		}
		resp.DefaultAction = Action(a.Execute)
	default:
		return Response{}, badPayload("more than one actions element")
	}
	if len(w.Notes) > lim.MaxNotes {
		return Response{}, badPayload("too many notes")
	}
	for _, n := range w.Notes {
		t := NoteType(n.Type)
		if t == "" {
			t = NoteInfo
		}
		resp.Notes = append(resp.Notes, Note{Type: t, Text: n.Text})
	}
	switch len(w.Forms) {
	case 0:
	case 1:
		f, err := formFromWire(&w.Forms[0])
		if err != nil {
			return Response{}, err
		}
		resp.Form = f
	default:
		return Response{}, badPayload("more than one form")
	}
	if err := resp.Validate(lim); err != nil {
		return Response{}, err
	}
	return resp, nil
}

// DecodeForm reads an <x xmlns='jabber:x:data'/>, including a result table.
// r and start are as for DecodeRequest; what it reads must follow Form.Validate within
// lim; failures are bad-payload *Error values.
func DecodeForm(r xml.TokenReader, start *xml.StartElement, lim Limits) (*Form, error) {
	lim = lim.withDefaults()
	var w wireForm
	if err := decodeElement(r, start, xml.Name{Space: NSData, Local: "x"}, lim, &w); err != nil {
		return nil, err
	}
	f, err := formFromWire(&w)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(lim); err != nil {
		return nil, err
	}
	return f, nil
}

// formFromWire turns the XML form into a Form, refusing what a Form cannot hold
// (an element given twice where XEP-0004 allows one); the caller validates the rest.
func formFromWire(w *wireForm) (*Form, error) {
	f := &Form{Type: FormType(w.Type), Instructions: w.Instructions}
	switch len(w.Title) {
	case 0:
	case 1:
		f.Title = w.Title[0]
	default:
		return nil, badPayload("more than one title")
	}
	var err error
	if f.Fields, err = fieldsFromWire(w.Fields); err != nil {
		return nil, err
	}
	switch len(w.Reported) {
	case 0:
		if len(w.Items) > 0 {
			return nil, badPayload("table items without reported fields")
		}
	case 1:
		if f.Reported, err = fieldsFromWire(w.Reported[0].Fields); err != nil {
			return nil, err
		}
		f.Items = make([][]Field, 0, len(w.Items))
		for _, it := range w.Items {
			row, err := fieldsFromWire(it.Fields)
			if err != nil {
				return nil, err
			}
			f.Items = append(f.Items, row)
		}
	default:
		return nil, badPayload("more than one reported element")
	}
	return f, nil
}

func fieldsFromWire(ws []wireField) ([]Field, error) {
	if len(ws) == 0 {
		return nil, nil
	}
	out := make([]Field, 0, len(ws))
	for _, w := range ws {
		fl := Field{Var: w.Var, Type: FieldType(w.Type), Label: w.Label, Required: len(w.Required) > 0}
		switch len(w.Desc) {
		case 0:
		case 1:
			fl.Desc = w.Desc[0]
		default:
			return nil, badPayload("more than one field description")
		}
		if len(w.Values) > 0 {
			fl.Values = w.Values
		}
		if len(w.Options) > 0 {
			fl.Options = make([]Option, 0, len(w.Options))
			for _, o := range w.Options {
				if len(o.Values) != 1 {
					return nil, badPayload("an option must have exactly one value")
				}
				fl.Options = append(fl.Options, Option{Label: o.Label, Value: o.Values[0]})
			}
		}
		out = append(out, fl)
	}
	return out, nil
}

// tokens builds a sequence of XML tokens.
type tokens []xml.Token

func (t *tokens) start(space, local string, attr ...xml.Attr) {
	*t = append(*t, xml.StartElement{Name: xml.Name{Space: space, Local: local}, Attr: attr})
}

func (t *tokens) end(space, local string) {
	*t = append(*t, xml.EndElement{Name: xml.Name{Space: space, Local: local}})
}

func (t *tokens) text(space, local, s string, attr ...xml.Attr) {
	t.start(space, local, attr...)
	if s != "" {
		*t = append(*t, xml.CharData(s))
	}
	t.end(space, local)
}

func (t tokens) reader() xml.TokenReader { return &sliceReader{toks: t} }

type sliceReader struct {
	toks []xml.Token
	i    int
}

func (r *sliceReader) Token() (xml.Token, error) {
	if r.i >= len(r.toks) {
		return nil, io.EOF
	}
	tok := r.toks[r.i]
	r.i++
	return tok, nil
}

func attr(name, value string) xml.Attr {
	return xml.Attr{Name: xml.Name{Local: name}, Value: value}
}

// TokenReader returns the form as an <x xmlns='jabber:x:data'/> element.
// A form with Reported is written as a table: <reported/> then one <item/> per row.
func (f *Form) TokenReader() xml.TokenReader {
	var t tokens
	f.appendTokens(&t)
	return t.reader()
}

func (f *Form) appendTokens(t *tokens) {
	typ := f.Type
	if typ == "" {
		typ = FormForm
	}
	t.start(NSData, "x", attr("type", string(typ)))
	if f.Title != "" {
		t.text(NSData, "title", f.Title)
	}
	for _, in := range f.Instructions {
		t.text(NSData, "instructions", in)
	}
	for _, fl := range f.Fields {
		fl.appendTokens(t, true)
	}
	if len(f.Reported) > 0 {
		t.start(NSData, "reported")
		for _, fl := range f.Reported {
			fl.appendTokens(t, true)
		}
		t.end(NSData, "reported")
		for _, row := range f.Items {
			t.start(NSData, "item")
			for _, fl := range row {
				fl.appendTokens(t, false)
			}
			t.end(NSData, "item")
		}
	}
	t.end(NSData, "x")
}

// appendTokens writes a field; cells of a table row (full == false) carry only their
// var and values.
func (fl Field) appendTokens(t *tokens, full bool) {
	var attrs []xml.Attr
	if fl.Var != "" {
		attrs = append(attrs, attr("var", fl.Var))
	}
	if full && fl.Type != "" {
		attrs = append(attrs, attr("type", string(fl.Type)))
	}
	if full && fl.Label != "" {
		attrs = append(attrs, attr("label", fl.Label))
	}
	t.start(NSData, "field", attrs...)
	if full && fl.Desc != "" {
		t.text(NSData, "desc", fl.Desc)
	}
	if full && fl.Required {
		t.text(NSData, "required", "")
	}
	for _, v := range fl.Values {
		t.text(NSData, "value", v)
	}
	if full {
		for _, o := range fl.Options {
			var oa []xml.Attr
			if o.Label != "" {
				oa = append(oa, attr("label", o.Label))
			}
			t.start(NSData, "option", oa...)
			t.text(NSData, "value", o.Value)
			t.end(NSData, "option")
		}
	}
	t.end(NSData, "field")
}

// TokenReader returns the request as a <command/> element, as a requester sends it.
// Requester is not written: the server knows it from the stream.
func (r Request) TokenReader() xml.TokenReader {
	attrs := []xml.Attr{attr("node", r.Node)}
	if r.SessionID != "" {
		attrs = append(attrs, attr("sessionid", r.SessionID))
	}
	if r.Action != "" {
		attrs = append(attrs, attr("action", string(r.Action)))
	}
	if r.Lang != "" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Space: nsXML, Local: "lang"}, Value: r.Lang})
	}
	var t tokens
	t.start(NS, "command", attrs...)
	if r.Form != nil {
		r.Form.appendTokens(&t)
	}
	t.end(NS, "command")
	return t.reader()
}

// TokenReader returns the response as a <command/> element.
// <actions/> is written only while executing; its execute attribute is DefaultAction,
// or the first of Actions when that is empty.
// Only prev, next and complete are written as children of <actions/>, as XEP-0050
// defines no others.
func (r Response) TokenReader() xml.TokenReader {
	attrs := []xml.Attr{attr("node", r.Node)}
	if r.SessionID != "" {
		attrs = append(attrs, attr("sessionid", r.SessionID))
	}
	if r.Status != "" {
		attrs = append(attrs, attr("status", string(r.Status)))
	}
	var t tokens
	t.start(NS, "command", attrs...)
	if r.Status == StatusExecuting && len(r.Actions) > 0 {
		var children []Action
		for _, a := range []Action{ActionPrev, ActionNext, ActionComplete} {
			for _, b := range r.Actions {
				if a == b {
					children = append(children, a)
					break
				}
			}
		}
		def := r.DefaultAction
		if def == "" || def == ActionExecute {
			def = r.Actions[0]
		}
		var aa []xml.Attr
		switch def {
		case ActionPrev, ActionNext, ActionComplete:
			aa = append(aa, attr("execute", string(def)))
		}
		t.start(NS, "actions", aa...)
		for _, a := range children {
			t.text(NS, string(a), "")
		}
		t.end(NS, "actions")
	}
	for _, n := range r.Notes {
		typ := n.Type
		if typ == "" {
			typ = NoteInfo
		}
		t.text(NS, "note", n.Text, attr("type", string(typ)))
	}
	if r.Form != nil {
		r.Form.appendTokens(&t)
	}
	t.end(NS, "command")
	return t.reader()
}

package c2s

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"

	"mellium.im/xmlstream"
)

// nsWriter is the one way this package turns tokens into bytes.
//
// encoding/xml writes xmlns="…" on every start element whose Name.Space is set, and
// a decoder sets Name.Space on every element it reads, so tokens that went through
// encoding/xml (payloads marshalled from structs, stanzas a client sent, mellium's
// own builders) come out with each child repeating the namespace it inherits:
// <query xmlns="…disco#items"><item xmlns="…disco#items"/></query>.
// That is valid XML, but some clients choke on it (Gajim's nbxmpp reads the
// attribute as an item field).
// nsWriter clears the namespace of every element that inherits it, starting from
// the stream's default namespace (jabber:client), so only elements that change
// namespace declare one; it also drops namespace declarations carried over as
// attributes (the names already hold the namespaces), comments, processing
// instructions and directives, none of which a stanza may carry (RFC 6120 §11.1).
type nsWriter struct {
	e *xml.Encoder
	// scope holds, for each open element, the default namespace in force as written
	// (the stream's at the bottom) and whether an element with an empty Space below
	// it is in no namespace, as a decoder means it (an xmlns='' in force where the
	// tokens were read), rather than built here to inherit its parent's.
	scope []nsScope
	// names holds the names as written, to close each element with the same one.
	names []xml.Name
}

// nsScope is the namespace state at one open element.
type nsScope struct {
	written string // the default namespace as written
	none    bool   // an empty Space below means no namespace (xmlns='' in force)
}

// newNSWriter writes to e inside an element whose default namespace is parent.
func newNSWriter(e *xml.Encoder, parent string) *nsWriter {
	return &nsWriter{e: e, scope: []nsScope{{written: parent}}}
}

// EncodeToken implements xmlstream.TokenWriter.
func (w *nsWriter) EncodeToken(t xml.Token) error {
	switch tok := t.(type) {
	case xml.StartElement:
		parent := w.scope[len(w.scope)-1]
		inherited := parent.written
		ns := tok.Name.Space
		// An element a decoder read as in no namespace has an empty Space under an
		// xmlns='' of its own or of an ancestor (even across prefixed elements, which
		// do not change the default namespace); one built here with an empty Space
		// inherits its parent's.
		none := parent.none
		for _, a := range tok.Attr {
			if a.Name.Space == "" && a.Name.Local == "xmlns" {
				none = a.Value == ""
			}
		}
		noNS := ns == "" && none
		if ns == "" && !noNS {
			ns = inherited
		}
		name := tok.Name
		if ns == inherited {
			name.Space = ""
		}
		attrs := make([]xml.Attr, 0, len(tok.Attr)+1)
		if noNS && inherited != "" {
			attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "xmlns"}, Value: ""})
		}
		for _, a := range tok.Attr {
			if (a.Name.Space == "" && a.Name.Local == "xmlns") || a.Name.Space == "xmlns" {
				continue
			}
			attrs = append(attrs, a)
		}
		w.scope = append(w.scope, nsScope{written: ns, none: none})
		w.names = append(w.names, name)
		return w.e.EncodeToken(xml.StartElement{Name: name, Attr: attrs})
	case xml.EndElement:
		if len(w.names) == 0 {
			return errors.New("c2s: end element without a start")
		}
		name := w.names[len(w.names)-1]
		w.names = w.names[:len(w.names)-1]
		w.scope = w.scope[:len(w.scope)-1]
		return w.e.EncodeToken(xml.EndElement{Name: name})
	case xml.CharData:
		return w.e.EncodeToken(tok)
	default:
		return nil
	}
}

// Flush implements xmlstream.Flusher.
func (w *nsWriter) Flush() error { return w.e.Flush() }

// Encode implements xmlstream.Encoder.
func (w *nsWriter) Encode(v any) error { return encodeXML(w, v, nil) }

// EncodeElement implements xmlstream.Encoder.
func (w *nsWriter) EncodeElement(v any, start xml.StartElement) error {
	return encodeXML(w, v, &start)
}

// encodeXML writes v as encoding/xml marshals it (as the element start when that is
// not nil) through w, token by token, so that it passes w's EncodeToken: the Encode
// and EncodeElement of this package's token writers.
func encodeXML(w xmlstream.TokenWriter, v any, start *xml.StartElement) error {
	var b bytes.Buffer
	e := xml.NewEncoder(&b) // Encode and EncodeElement flush it
	var err error
	if start == nil {
		err = e.Encode(v)
	} else {
		err = e.EncodeElement(v, *start)
	}
	if err != nil {
		return err
	}
	_, err = xmlstream.Copy(w, xml.NewDecoder(&b))
	return err
}

var _ xmlstream.Encoder = (*nsWriter)(nil)

// marshal serializes the tokens of r, as an element of a jabber:client stream.
func marshal(r xml.TokenReader) ([]byte, error) {
	var b bytes.Buffer
	w := newNSWriter(xml.NewEncoder(&b), nsClient)
	if _, err := xmlstream.Copy(w, r); err != nil {
		return nil, fmt.Errorf("c2s: encoding: %w", err)
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("c2s: encoding: %w", err)
	}
	return b.Bytes(), nil
}

// payloadTokens marshals v with encoding/xml and returns its tokens; marshal
// writes them without repeated namespaces.
// A nil v gives no tokens.
func payloadTokens(v any) (xml.TokenReader, error) {
	if v == nil {
		return nil, nil
	}
	b, err := xml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("c2s: encoding payload: %w", err)
	}
	return xml.NewDecoder(bytes.NewReader(b)), nil
}

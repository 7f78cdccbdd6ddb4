package c2s

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"mellium.im/xmlstream"
)

// maxElementTokens bounds the tokens of a stanza read into memory; its bytes are
// bounded by the connection's per-element budget already.
const maxElementTokens = 1 << 16

// element is a stanza read into memory, to be routed or kept (a presence).
type element struct {
	start xml.StartElement
	inner []xml.Token // the content between start and its end, copied
}

// readElement reads the rest of the element start opened.
func readElement(r xml.TokenReader, start xml.StartElement) (element, error) {
	el := element{start: start.Copy()}
	depth := 0
	for {
		tok, err := r.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return element{}, fmt.Errorf("c2s: stream ended inside <%s>: %w", start.Name.Local, io.ErrUnexpectedEOF)
			}
			return element{}, err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			if depth == 0 {
				return el, nil
			}
			depth--
		case xml.CharData:
		default:
			continue // comments and the like are not kept
		}
		if len(el.inner) >= maxElementTokens {
			return element{}, &streamError{condition: "policy-violation", text: "stanza too complex"}
		}
		el.inner = append(el.inner, xml.CopyToken(tok))
	}
}

// attr returns the value of the unqualified attribute local.
func (e element) attr(local string) string {
	for _, a := range e.start.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// tokens returns the element with 'from' and 'to' set to from and to (dropped when
// empty).
func (e element) tokens(from, to string) xml.TokenReader {
	start := e.start.Copy()
	attrs := start.Attr[:0]
	for _, a := range start.Attr {
		if a.Name.Space == "" && (a.Name.Local == "from" || a.Name.Local == "to") {
			continue
		}
		attrs = append(attrs, a)
	}
	if from != "" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "from"}, Value: from})
	}
	if to != "" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "to"}, Value: to})
	}
	start.Attr = attrs
	return xmlstream.Wrap(&sliceReader{toks: e.inner}, start)
}

// bytes serializes the element with from and to.
func (e element) bytes(from, to string) ([]byte, error) {
	return marshal(e.tokens(from, to))
}

// child returns the text of the first child element named name, and whether there is
// one. Only direct children count.
func (e element) child(name xml.Name) (string, bool) {
	depth := 0
	found := false
	var text strings.Builder
	for _, tok := range e.inner {
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 && !found && t.Name == name {
				found = true
				depth++
				continue
			}
			depth++
		case xml.EndElement:
			depth--
			if found && depth == 0 {
				return text.String(), true
			}
		case xml.CharData:
			if found && depth == 1 {
				text.Write(t)
			}
		}
	}
	return text.String(), found
}

// childStart returns the start of the first child element named name.
func (e element) childStart(name xml.Name) (xml.StartElement, bool) {
	depth := 0
	for _, tok := range e.inner {
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 && t.Name == name {
				return t, true
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return xml.StartElement{}, false
}

// without returns the element without its direct children named name.
func (e element) without(name xml.Name) element {
	out := element{start: e.start}
	skip, depth := 0, 0
	for _, tok := range e.inner {
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 && t.Name == name {
				skip = 1
				depth++
				continue
			}
			depth++
			if skip > 0 {
				skip++
				continue
			}
		case xml.EndElement:
			depth--
			if skip > 0 {
				skip--
				continue
			}
		default:
			if skip > 0 {
				continue
			}
		}
		out.inner = append(out.inner, tok)
	}
	return out
}

// priority returns a presence's priority (RFC 6121 §4.7.2.3); absent or invalid is 0.
func (e element) priority() int {
	s, ok := e.child(xml.Name{Space: nsClient, Local: "priority"})
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < -128 || n > 127 {
		return 0
	}
	return n
}

// sliceReader reads tokens from a slice.
type sliceReader struct {
	toks []xml.Token
	i    int
}

// Token implements xml.TokenReader.
func (r *sliceReader) Token() (xml.Token, error) {
	if r.i >= len(r.toks) {
		return nil, io.EOF
	}
	t := r.toks[r.i]
	r.i++
	return t, nil
}

// stanzaXML builds a stanza of name (iq, message, presence) with attrs (name, value
// pairs; empty values are left out) and payload as its content.
func stanzaXML(name string, payload xml.TokenReader, attrs ...string) ([]byte, error) {
	start := xml.StartElement{Name: xml.Name{Local: name}}
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] != "" {
			start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: attrs[i]}, Value: attrs[i+1]})
		}
	}
	return marshal(xmlstream.Wrap(payload, start))
}

package c2s

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"mellium.im/xmlstream"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
)

// tokensOf reads every token of one XML document with namespaces resolved, keeping
// what a stanza means: element names, attributes other than namespace declarations,
// and text.
func tokensOf(b []byte) ([]xml.Token, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	var out []xml.Token
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			var attrs []xml.Attr
			for _, a := range t.Attr {
				if (a.Name.Space == "" && a.Name.Local == "xmlns") || a.Name.Space == "xmlns" {
					continue
				}
				attrs = append(attrs, a)
			}
			out = append(out, xml.StartElement{Name: t.Name, Attr: attrs})
		case xml.EndElement, xml.CharData:
			out = append(out, xml.CopyToken(t))
		}
	}
}

// streamElement returns the tokens of the element in, read as a stream reads it: inside a
// jabber:client stream.
func streamElement(in string) xml.TokenReader {
	d := xml.NewDecoder(strings.NewReader(`<s xmlns='jabber:client'>` + in + `</s>`))
	if _, err := d.Token(); err != nil {
		return d
	}
	return xmlstream.Inner(d)
}

func TestMarshalKeepsNamespaces(t *testing.T) {
	for _, in := range []string{
		`<iq xmlns='jabber:client' type='result'><query xmlns='http://jabber.org/protocol/disco#items'><item jid='localhost' node='n'/><item jid='x'/></query></iq>`,
		`<message xmlns='jabber:client'><body>hi</body><x:active xmlns:x='http://jabber.org/protocol/chatstates'/><other xmlns='urn:o'><inner/></other></message>`,
		`<presence xmlns='jabber:client' xml:lang='en'><status>&lt;b&gt;</status></presence>`,
		`<iq xmlns='jabber:client'><a xmlns='urn:a'><b xmlns='jabber:client'/></a></iq>`,
		`<iq xmlns='jabber:client'><a xmlns='urn:a'><b xmlns=''><c/></b></a></iq>`,
	} {
		b, err := marshal(streamElement(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		want, _ := tokensOf([]byte(`<s xmlns='jabber:client'>` + in + `</s>`))
		got, err := tokensOf([]byte(`<s xmlns='jabber:client'>` + string(b) + `</s>`))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s\nwrote %s (%v)", in, b, err)
		}
		if rep, err := testclient.RepeatedNamespaces([]byte(`<stream:stream xmlns='jabber:client' xmlns:stream='s'>` + string(b))); err != nil || len(rep) > 0 {
			t.Errorf("%s\nwrote %s: %v %v", in, b, rep, err)
		}
	}
}

// FuzzMarshal: whatever element a client sends, what marshal writes means the same
// (names in the same namespaces, attributes, text) inside a jabber:client stream.
func FuzzMarshal(f *testing.F) {
	for _, s := range []string{
		`<iq xmlns='jabber:client'><query xmlns='urn:q'><item a='1'/></query></iq>`,
		`<message xmlns='jabber:client'><p:x xmlns:p='urn:p' p:attr='v'><y/></p:x></message>`,
		`<a xmlns='urn:a'><b xmlns=''><c/></b></a>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if len(in) > 4096 {
			return
		}
		want, err := tokensOf([]byte(`<s xmlns='jabber:client'>` + in + `</s>`))
		if err != nil || len(want) < 3 {
			return
		}
		if _, ok := want[1].(xml.StartElement); !ok {
			return
		}
		// One element only, as a stanza is.
		b, err := marshal(streamElement(in))
		if err != nil {
			return
		}
		got, err := tokensOf([]byte(`<s xmlns='jabber:client'>` + string(b) + `</s>`))
		if err != nil {
			t.Fatalf("%q wrote %q, not well-formed: %v", in, b, err)
		}
		if rep, err := testclient.RepeatedNamespaces([]byte(`<stream:stream xmlns='jabber:client' xmlns:stream='s'>` + string(b))); err != nil || len(rep) > 0 {
			t.Fatalf("%q wrote %q: %v %v", in, b, rep, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q wrote %q:\n got %v\nwant %v", in, b, got, want)
		}
	})
}

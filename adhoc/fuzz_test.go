package adhoc_test

import (
	"encoding/xml"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/adhoc"
)

// FuzzDecodeRequest feeds raw <command/> elements to the decoder: it must refuse with
// an *adhoc.Error or accept, and whatever it accepts must survive encoding and decoding
// unchanged. Seeds are in testdata/fuzz/FuzzDecodeRequest.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(`<command xmlns='http://jabber.org/protocol/commands' node='urn:xmpp-invites:keys#list' action='execute'/>`)
	f.Add(`<command xmlns='http://jabber.org/protocol/commands' node='n' sessionid='s' action='complete'><x xmlns='jabber:x:data' type='submit'><field var='name'><value>x</value></field></x></command>`)
	f.Fuzz(func(t *testing.T, in string) {
		req, err := adhoc.DecodeRequest(xml.NewDecoder(strings.NewReader(in)), nil, adhoc.Limits{})
		if err != nil {
			var ae *adhoc.Error
			if !errors.As(err, &ae) {
				t.Fatalf("not an *adhoc.Error: %v", err)
			}
			return
		}
		text := encode(t, req.TokenReader())
		again, err := adhoc.DecodeRequest(xml.NewDecoder(strings.NewReader(text)), nil, adhoc.Limits{})
		if err != nil {
			t.Fatalf("re-decoding %s: %v", text, err)
		}
		if !reflect.DeepEqual(req, again) {
			t.Fatalf("round trip changed the request:\n%#v\n%#v\n%s", req, again, text)
		}
	})
}

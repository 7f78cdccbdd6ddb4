package c2s

import (
	"testing"
	"time"
)

// TestMessageXML checks the wire form of a message from the server: escaped text,
// xml:lang spelled with its reserved prefix, and the delay of a kept message.
func TestMessageXML(t *testing.T) {
	for i, tc := range []struct {
		subject, body, lang string
		delayed             time.Time
		want                string
	}{
		{"", "B & <x>", "", time.Time{},
			`<message type="chat" id="m" from="localhost" to="a@localhost"><body>B &amp; &lt;x&gt;</body></message>`},
		{"S", "B", "de-CH", time.Unix(86400, 0),
			`<message type="chat" id="m" from="localhost" to="a@localhost" xml:lang="de-CH"><subject>S</subject><body>B</body>` +
				`<delay xmlns="urn:xmpp:delay" from="localhost" stamp="1970-01-02T00:00:00Z"></delay></message>`},
	} {
		b, err := messageXML("localhost", "a@localhost", "m", tc.subject, tc.body, tc.lang, tc.delayed)
		if err != nil || string(b) != tc.want {
			t.Errorf("%d: %s, %v\nwant %s", i, b, err, tc.want)
		}
	}
}

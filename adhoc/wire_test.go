package adhoc_test

import (
	"encoding/xml"
	"reflect"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/adhoc"
	"mellium.im/xmlstream"
)

// encode writes a token stream as text.
func encode(t testing.TB, r xml.TokenReader) string {
	t.Helper()
	var b strings.Builder
	e := xml.NewEncoder(&b)
	if _, err := xmlstream.Copy(e, r); err != nil {
		t.Fatal(err)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestDecodeRequest(t *testing.T) {
	for i, tc := range []struct {
		name string
		in   string
		want adhoc.Request
		err  adhoc.Condition
	}{
		0: {
			name: "Gajim execute",
			in:   `<command xmlns='http://jabber.org/protocol/commands' node='urn:xmpp-invites:keys#list' action='execute'/>`,
			want: adhoc.Request{Node: "urn:xmpp-invites:keys#list", Action: adhoc.ActionExecute},
		},
		1: {
			name: "Conversations execute, no action, xml:lang",
			in:   `<command xmlns="http://jabber.org/protocol/commands" node="urn:xmpp:invite#invite" xml:lang="de"/>`,
			want: adhoc.Request{Node: "urn:xmpp:invite#invite", Lang: "de"},
		},
		2: {
			name: "Gajim complete with the form echoed back",
			in: `<command xmlns="http://jabber.org/protocol/commands" node="urn:xmpp-invites:keys#create" sessionid="ABCDEF" action="complete">
  <x xmlns="jabber:x:data" type="submit">
    <field var="name" type="text-single"><value>portal</value></field>
    <field var="expires" type="text-single"/>
    <field var="keys" type="list-multi"><value>a</value><value>b</value></field>
    <field var="ok" type="boolean"><value>1</value></field>
  </x>
</command>`,
			want: adhoc.Request{Node: "urn:xmpp-invites:keys#create", SessionID: "ABCDEF", Action: adhoc.ActionComplete,
				Form: &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{
					{Var: "name", Type: adhoc.FieldTextSingle, Values: []string{"portal"}},
					{Var: "expires", Type: adhoc.FieldTextSingle},
					{Var: "keys", Type: adhoc.FieldListMulti, Values: []string{"a", "b"}},
					{Var: "ok", Type: adhoc.FieldBoolean, Values: []string{"1"}},
				}}},
		},
		3: {
			name: "Psi next with prefixed namespace and untyped fields",
			in: `<c:command xmlns:c="http://jabber.org/protocol/commands" xmlns:d="jabber:x:data" node="n" sessionid="s" action="next">
  <d:x type="submit"><d:field var="username"><d:value>juliet</d:value></d:field></d:x>
</c:command>`,
			want: adhoc.Request{Node: "n", SessionID: "s", Action: adhoc.ActionNext,
				Form: &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: "username", Values: []string{"juliet"}}}}},
		},
		4: {
			name: "cancel with a cancel form",
			in:   `<command xmlns="http://jabber.org/protocol/commands" node="n" sessionid="s" action="cancel"><x xmlns="jabber:x:data" type="cancel"/></command>`,
			want: adhoc.Request{Node: "n", SessionID: "s", Action: adhoc.ActionCancel, Form: &adhoc.Form{Type: adhoc.FormCancel}},
		},
		5: {
			name: "unknown children are ignored",
			in:   `<command xmlns="http://jabber.org/protocol/commands" node="n"><foo xmlns="urn:x"><bar/></foo><field xmlns="jabber:x:data" var="x"/></command>`,
			want: adhoc.Request{Node: "n"},
		},
		6:  {name: "unknown action", in: `<command xmlns="http://jabber.org/protocol/commands" node="n" action="jump"/>`, err: adhoc.CondMalformedAction},
		7:  {name: "action in wrong case", in: `<command xmlns="http://jabber.org/protocol/commands" node="n" action="Execute"/>`, err: adhoc.CondMalformedAction},
		8:  {name: "wrong element", in: `<query xmlns="http://jabber.org/protocol/commands" node="n"/>`, err: adhoc.CondBadPayload},
		9:  {name: "wrong namespace", in: `<command xmlns="urn:example" node="n"/>`, err: adhoc.CondBadPayload},
		10: {name: "two forms", in: `<command xmlns="http://jabber.org/protocol/commands" node="n"><x xmlns="jabber:x:data" type="submit"/><x xmlns="jabber:x:data" type="submit"/></command>`, err: adhoc.CondBadPayload},
		11: {name: "a result form submitted", in: `<command xmlns="http://jabber.org/protocol/commands" node="n"><x xmlns="jabber:x:data" type="result"/></command>`, err: adhoc.CondBadPayload},
		12: {name: "unknown form type", in: `<command xmlns="http://jabber.org/protocol/commands" node="n"><x xmlns="jabber:x:data" type="sumbit"/></command>`, err: adhoc.CondBadPayload},
		13: {name: "unknown field type", in: `<command xmlns="http://jabber.org/protocol/commands" node="n"><x xmlns="jabber:x:data" type="submit"><field var="a" type="text-huge"/></x></command>`, err: adhoc.CondBadPayload},
		14: {name: "duplicate var", in: `<command xmlns="http://jabber.org/protocol/commands" node="n"><x xmlns="jabber:x:data" type="submit"><field var="a"/><field var="a"/></x></command>`, err: adhoc.CondBadPayload},
		15: {name: "two values in a single field", in: `<command xmlns="http://jabber.org/protocol/commands" node="n"><x xmlns="jabber:x:data" type="submit"><field var="a" type="text-single"><value>1</value><value>2</value></field></x></command>`, err: adhoc.CondBadPayload},
		16: {name: "field without var", in: `<command xmlns="http://jabber.org/protocol/commands" node="n"><x xmlns="jabber:x:data" type="form"><field type="text-single"/></x></command>`, err: adhoc.CondBadPayload},
		// poezio turns a response's notes into fixed fields without a var, and
		// submits them back without their type: let through, to be ignored.
		27: {name: "poezio's notes submitted back", in: `<command xmlns="http://jabber.org/protocol/commands" node="n" sessionid="s" action="next"><x xmlns="jabber:x:data" type="submit">` +
			`<field><value>a note</value></field><field/><field var="note-1"><value>Rate limit: …</value></field><field var="rate"><value>5/m</value></field></x></command>`,
			want: adhoc.Request{Node: "n", SessionID: "s", Action: adhoc.ActionNext, Form: &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{
				{Values: []string{"a note"}}, {}, {Var: "note-1", Values: []string{"Rate limit: …"}}, {Var: "rate", Values: []string{"5/m"}}}}}},
		17: {name: "long session id", in: `<command xmlns="http://jabber.org/protocol/commands" node="n" sessionid="` + strings.Repeat("s", 200) + `"/>`, err: adhoc.CondBadSessionID},
		18: {name: "long value", in: `<command xmlns="http://jabber.org/protocol/commands" node="n"><x xmlns="jabber:x:data" type="submit"><field var="a"><value>` + strings.Repeat("v", 5000) + `</value></field></x></command>`, err: adhoc.CondBadPayload},
		19: {name: "too many fields", in: `<command xmlns="http://jabber.org/protocol/commands" node="n"><x xmlns="jabber:x:data" type="submit">` + fields(65) + `</x></command>`, err: adhoc.CondBadPayload},
		20: {name: "too deep", in: `<command xmlns="http://jabber.org/protocol/commands" node="n">` + strings.Repeat("<a>", 20) + strings.Repeat("</a>", 20) + `</command>`, err: adhoc.CondBadPayload},
		21: {name: "too big", in: `<command xmlns="http://jabber.org/protocol/commands" node="n"><pad>` + strings.Repeat("p", 70000) + `</pad></command>`, err: adhoc.CondBadPayload},
		22: {name: "too many tokens", in: `<command xmlns="http://jabber.org/protocol/commands" node="n">` + strings.Repeat("<a/>", 3000) + `</command>`, err: adhoc.CondBadPayload},
		23: {name: "truncated", in: `<command xmlns="http://jabber.org/protocol/commands" node="n"><x xmlns="jabber:x:data" type="submit">`, err: adhoc.CondBadPayload},
		24: {name: "a table submitted", in: `<command xmlns="http://jabber.org/protocol/commands" node="n"><x xmlns="jabber:x:data" type="submit"><reported><field var="a"/></reported></x></command>`, err: adhoc.CondBadPayload},
		25: {name: "option with two values", in: `<command xmlns="http://jabber.org/protocol/commands" node="n"><x xmlns="jabber:x:data" type="submit"><field var="a"><option><value>1</value><value>2</value></option></field></x></command>`, err: adhoc.CondBadPayload},
		26: {name: "empty", in: ``, err: adhoc.CondBadPayload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := adhoc.DecodeRequest(xml.NewDecoder(strings.NewReader(tc.in)), nil, adhoc.Limits{})
			if c := condOf(err); c != tc.err {
				t.Fatalf("%d: error %v, want %q", i, err, tc.err)
			}
			if err == nil && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%d: got\n%#v\nwant\n%#v", i, got, tc.want)
			}
		})
	}
}

func fields(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(`<field var="f`)
		b.WriteString(strings.Repeat("x", i))
		b.WriteString(`"/>`)
	}
	return b.String()
}

func TestRoundTrip(t *testing.T) {
	table := &adhoc.Form{
		Type:  adhoc.FormResult,
		Title: "Invite API keys",
		Reported: []adhoc.Field{
			{Var: "id", Label: "ID", Type: adhoc.FieldTextSingle},
			{Var: "name", Label: "Name", Type: adhoc.FieldTextSingle},
		},
		Items: [][]adhoc.Field{
			{{Var: "id", Values: []string{"AAAAAAAAAAAA"}}, {Var: "name", Values: []string{"portal <&> \"x\""}}},
			{{Var: "id", Values: []string{"BBBBBBBBBBBB"}}, {Var: "name", Values: []string{"bot"}}},
		},
	}
	form := &adhoc.Form{
		Type:         adhoc.FormForm,
		Title:        "Delete invite API keys",
		Instructions: []string{"Pick some.", "Or none."},
		Fields: []adhoc.Field{
			{Var: "FORM_TYPE", Type: adhoc.FieldHidden, Values: []string{"urn:example"}},
			{Type: adhoc.FieldFixed, Values: []string{"Section"}},
			{Var: "keys", Type: adhoc.FieldListMulti, Label: "Keys", Desc: "Which ones", Required: true,
				Options: []adhoc.Option{{Label: "portal", Value: "AAAAAAAAAAAA"}, {Value: "BBBBBBBBBBBB"}}},
			{Var: "notes", Type: adhoc.FieldTextMulti, Values: []string{"line 1", "line 2"}},
		},
	}
	for i, resp := range []adhoc.Response{
		0: {Node: "n", SessionID: "s", Status: adhoc.StatusExecuting, Actions: []adhoc.Action{adhoc.ActionPrev, adhoc.ActionComplete},
			DefaultAction: adhoc.ActionComplete, Form: form},
		1: {Node: "n", SessionID: "s", Status: adhoc.StatusCompleted, Form: table,
			Notes: []adhoc.Note{{Type: adhoc.NoteWarn, Text: "shown once"}, {Type: adhoc.NoteInfo, Text: "ok"}}},
		2: {Node: "n", SessionID: "s", Status: adhoc.StatusCanceled},
		3: {Node: "n", SessionID: "s", Status: adhoc.StatusCompleted, Form: &adhoc.Form{Type: adhoc.FormResult, Reported: table.Reported, Items: [][]adhoc.Field{}}},
	} {
		text := encode(t, resp.TokenReader())
		got, err := adhoc.DecodeResponse(xml.NewDecoder(strings.NewReader(text)), nil, adhoc.Limits{})
		if err != nil {
			t.Fatalf("%d: %v\n%s", i, err, text)
		}
		if !reflect.DeepEqual(got, resp) {
			t.Fatalf("%d: got\n%#v\nwant\n%#v\n%s", i, got, resp, text)
		}
	}
	for i, req := range []adhoc.Request{
		0: {Node: "n"},
		1: {Node: "n", SessionID: "s", Action: adhoc.ActionComplete, Lang: "en", Form: &adhoc.Form{Type: adhoc.FormSubmit,
			Fields: []adhoc.Field{{Var: "a", Values: []string{"1"}}, {Var: "b", Type: adhoc.FieldJIDMulti, Values: []string{"a@b", "c@d"}}}}},
	} {
		text := encode(t, req.TokenReader())
		got, err := adhoc.DecodeRequest(xml.NewDecoder(strings.NewReader(text)), nil, adhoc.Limits{})
		if err != nil {
			t.Fatalf("request %d: %v\n%s", i, err, text)
		}
		if !reflect.DeepEqual(got, req) {
			t.Fatalf("request %d: got\n%#v\nwant\n%#v\n%s", i, got, req, text)
		}
	}
}

func TestResponseXML(t *testing.T) {
	for i, tc := range []struct {
		resp adhoc.Response
		want string
	}{
		0: {
			adhoc.Response{Node: "n", SessionID: "s", Status: adhoc.StatusExecuting, Actions: []adhoc.Action{adhoc.ActionPrev, adhoc.ActionNext}, DefaultAction: adhoc.ActionNext},
			`<command xmlns="http://jabber.org/protocol/commands" node="n" sessionid="s" status="executing"><actions xmlns="http://jabber.org/protocol/commands" execute="next"><prev xmlns="http://jabber.org/protocol/commands"></prev><next xmlns="http://jabber.org/protocol/commands"></next></actions></command>`,
		},
		1: {
			adhoc.Response{Node: "n", SessionID: "s", Status: adhoc.StatusExecuting, Actions: []adhoc.Action{adhoc.ActionComplete}},
			`<command xmlns="http://jabber.org/protocol/commands" node="n" sessionid="s" status="executing"><actions xmlns="http://jabber.org/protocol/commands" execute="complete"><complete xmlns="http://jabber.org/protocol/commands"></complete></actions></command>`,
		},
		2: {
			// No actions once completed, whatever the value says.
			adhoc.Response{Node: "n", SessionID: "s", Status: adhoc.StatusCompleted, Actions: []adhoc.Action{adhoc.ActionNext},
				Notes: []adhoc.Note{{Type: adhoc.NoteError, Text: "failed"}}},
			`<command xmlns="http://jabber.org/protocol/commands" node="n" sessionid="s" status="completed"><note xmlns="http://jabber.org/protocol/commands" type="error">failed</note></command>`,
		},
	} {
		if got := encode(t, tc.resp.TokenReader()); got != tc.want {
			t.Errorf("%d:\n got %s\nwant %s", i, got, tc.want)
		}
	}
}

func TestDecodeResultTable(t *testing.T) {
	// A result table as Prosody's mod_adhoc writes one.
	in := `<x xmlns='jabber:x:data' type='result'>
  <title>Invite API keys</title>
  <reported><field var='id' label='ID'/><field var='name' label='Name'/></reported>
  <item><field var='id'><value>AAAAAAAAAAAA</value></field><field var='name'><value>portal</value></field></item>
  <item><field var='id'><value>BBBBBBBBBBBB</value></field><field var='name'><value/></field></item>
</x>`
	f, err := adhoc.DecodeForm(xml.NewDecoder(strings.NewReader(in)), nil, adhoc.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Reported) != 2 || len(f.Items) != 2 || f.Items[1][0].Values[0] != "BBBBBBBBBBBB" || f.Items[1][1].Values[0] != "" {
		t.Fatalf("%+v", f)
	}
	for i, bad := range []string{
		`<x xmlns='jabber:x:data' type='result'><item><field var='id'/></item></x>`,
		`<x xmlns='jabber:x:data' type='result'><reported/><reported/></x>`,
		`<x xmlns='jabber:x:data' type='result'><title>a</title><title>b</title></x>`,
		`<x xmlns='jabber:x:data'/>`,
	} {
		if _, err := adhoc.DecodeForm(xml.NewDecoder(strings.NewReader(bad)), nil, adhoc.Limits{}); condOf(err) != adhoc.CondBadPayload {
			t.Errorf("%d: %v, want bad-payload", i, err)
		}
	}
}

func TestErrorXML(t *testing.T) {
	const (
		stanzas = `urn:ietf:params:xml:ns:xmpp-stanzas`
		cmds    = `http://jabber.org/protocol/commands`
	)
	for i, tc := range []struct {
		cond adhoc.Condition
		want string
	}{
		0:  {adhoc.CondMalformedAction, `<error type="modify"><bad-request xmlns="` + stanzas + `"></bad-request><malformed-action xmlns="` + cmds + `"></malformed-action></error>`},
		1:  {adhoc.CondBadAction, `<error type="modify"><bad-request xmlns="` + stanzas + `"></bad-request><bad-action xmlns="` + cmds + `"></bad-action></error>`},
		2:  {adhoc.CondBadLocale, `<error type="modify"><bad-request xmlns="` + stanzas + `"></bad-request><bad-locale xmlns="` + cmds + `"></bad-locale></error>`},
		3:  {adhoc.CondBadPayload, `<error type="modify"><bad-request xmlns="` + stanzas + `"></bad-request><bad-payload xmlns="` + cmds + `"></bad-payload></error>`},
		4:  {adhoc.CondBadSessionID, `<error type="modify"><bad-request xmlns="` + stanzas + `"></bad-request><bad-sessionid xmlns="` + cmds + `"></bad-sessionid></error>`},
		5:  {adhoc.CondSessionExpired, `<error type="cancel"><not-allowed xmlns="` + stanzas + `"></not-allowed><session-expired xmlns="` + cmds + `"></session-expired></error>`},
		6:  {adhoc.CondForbidden, `<error type="auth"><forbidden xmlns="` + stanzas + `"></forbidden></error>`},
		7:  {adhoc.CondItemNotFound, `<error type="cancel"><item-not-found xmlns="` + stanzas + `"></item-not-found></error>`},
		8:  {adhoc.CondNotAcceptable, `<error type="modify"><not-acceptable xmlns="` + stanzas + `"></not-acceptable></error>`},
		9:  {adhoc.CondResourceConstraint, `<error type="wait"><resource-constraint xmlns="` + stanzas + `"></resource-constraint></error>`},
		10: {adhoc.CondServiceUnavailable, `<error type="cancel"><service-unavailable xmlns="` + stanzas + `"></service-unavailable></error>`},
		11: {adhoc.CondInternalServerError, `<error type="cancel"><internal-server-error xmlns="` + stanzas + `"></internal-server-error></error>`},
		12: {"made-up", `<error type="cancel"><internal-server-error xmlns="` + stanzas + `"></internal-server-error></error>`},
	} {
		if got := encode(t, (&adhoc.Error{Condition: tc.cond}).TokenReader()); got != tc.want {
			t.Errorf("%d:\n got %s\nwant %s", i, got, tc.want)
		}
	}
	got := encode(t, (&adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "rate: bad"}).TokenReader())
	if !strings.Contains(got, `<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">rate: bad</text>`) {
		t.Errorf("text missing: %s", got)
	}
}

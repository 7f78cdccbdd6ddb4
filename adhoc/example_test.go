package adhoc_test

import (
	"encoding/xml"
	"fmt"
	"os"
	"strings"

	"github.com/xmpp-invites/invites/adhoc"
	"mellium.im/xmlstream"
)

// A result table, as "List invite API keys" completes with: one <reported/> naming
// the columns, then one <item/> per row.
func ExampleForm_TokenReader() {
	f := &adhoc.Form{
		Type:  adhoc.FormResult,
		Title: "Invite API keys",
		Reported: []adhoc.Field{
			{Var: "id", Label: "ID"},
			{Var: "name", Label: "Name"},
		},
		Items: [][]adhoc.Field{
			{{Var: "id", Values: []string{"b2Jz3Xq9kLmN"}}, {Var: "name", Values: []string{"portal"}}},
		},
	}
	e := xml.NewEncoder(os.Stdout)
	e.Indent("", " ")
	if _, err := xmlstream.Copy(e, f.TokenReader()); err != nil {
		fmt.Println(err)
	}
	e.Flush()
	// Output:
	// <x xmlns="jabber:x:data" type="result">
	//  <title xmlns="jabber:x:data">Invite API keys</title>
	//  <reported xmlns="jabber:x:data">
	//   <field xmlns="jabber:x:data" var="id" label="ID"></field>
	//   <field xmlns="jabber:x:data" var="name" label="Name"></field>
	//  </reported>
	//  <item xmlns="jabber:x:data">
	//   <field xmlns="jabber:x:data" var="id">
	//    <value xmlns="jabber:x:data">b2Jz3Xq9kLmN</value>
	//   </field>
	//   <field xmlns="jabber:x:data" var="name">
	//    <value xmlns="jabber:x:data">portal</value>
	//   </field>
	//  </item>
	// </x>
}

// Reading a submitted form as a client sends it, then its values.
func ExampleDecodeRequest() {
	in := `<command xmlns='http://jabber.org/protocol/commands' node='urn:xmpp-invites:keys#create' sessionid='S1' action='complete'>
  <x xmlns='jabber:x:data' type='submit'>
    <field var='name'><value>portal</value></field>
    <field var='rate'><value>10/h</value></field>
  </x>
</command>`
	req, err := adhoc.DecodeRequest(xml.NewDecoder(strings.NewReader(in)), nil, adhoc.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req.Action, req.SessionID, req.Form.Value("name"), req.Form.Value("rate"))
	// Output:
	// complete S1 portal 10/h
}

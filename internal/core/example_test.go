package core_test

import (
	"fmt"

	"github.com/xmpp-invites/invites/internal/core"
)

func ExampleInvite_URI() {
	const token = "Ab-_cdEFghIJklMNopQRstUV"
	account := core.Invite{Host: "example.com", Kind: core.KindAccount}
	fixed := core.Invite{Host: "example.com", Kind: core.KindAccount, Username: "alice"}
	contact := core.Invite{Host: "example.com", Kind: core.KindContact, Inviter: "bob", AllowRegister: true}
	fmt.Println(account.URI(token))
	fmt.Println(fixed.URI(token))
	fmt.Println(contact.URI(token))
	// Output:
	// xmpp:example.com?register;preauth=Ab-_cdEFghIJklMNopQRstUV
	// xmpp:alice@example.com?register;preauth=Ab-_cdEFghIJklMNopQRstUV
	// xmpp:bob@example.com?roster;preauth=Ab-_cdEFghIJklMNopQRstUV;ibr=y
}

func ExampleParseKey() {
	id, secret, err := core.ParseKey("abcdefghijkl/ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
	fmt.Println(id, secret, err)
	_, _, err = core.ParseKey("abcdefghijkl")
	fmt.Println(err)
	// Output:
	// abcdefghijkl ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 <nil>
	// malformed API key: a key is ID/SECRET, of 12 and 36 base64url characters
}

func ExampleLandingPage() {
	const token = "Ab-_cdEFghIJklMNopQRstUV"
	inv := core.Invite{Host: "example.com", Kind: core.KindAccount}
	fmt.Println(core.LandingPage("https://example.com/invite?{token}", inv, token))
	fmt.Println(core.LandingPage("https://{host}/join/{token}", inv, token))
	fmt.Println(core.LandingPage("https://example.com/invite?uri={uri}", inv, token))
	fmt.Printf("%q\n", core.LandingPage("", inv, token))
	// Output:
	// https://example.com/invite?Ab-_cdEFghIJklMNopQRstUV
	// https://example.com/join/Ab-_cdEFghIJklMNopQRstUV
	// https://example.com/invite?uri=xmpp%3Aexample.com%3Fregister%3Bpreauth%3DAb-_cdEFghIJklMNopQRstUV
	// ""
}

func ExampleParseRate() {
	r, err := core.ParseRate("10/m")
	fmt.Println(r.N, r.Period, err, r)
	// Output:
	// 10 1m0s <nil> 10/1m
}

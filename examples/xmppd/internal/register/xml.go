package register

import (
	"encoding/xml"
	"errors"
	"fmt"
)

// Namespaces of registration.
const (
	// NS is the XEP-0077 IQ namespace.
	NS = "jabber:iq:register"
	// NSFeature is the XEP-0077 stream feature.
	NSFeature = "http://jabber.org/features/iq-register"
	// NSPreAuth is the XEP-0379 pre-auth IQ payload.
	NSPreAuth = "urn:xmpp:pars:0"
	// NSIBRToken is the XEP-0445 stream feature.
	NSIBRToken = "urn:xmpp:ibr-token:0"
	// NSInvite is the legacy XEP-0401 0.3.0 stream feature Conversations looks for.
	NSInvite = "urn:xmpp:invite"
	// NSData is XEP-0004 data forms.
	NSData = "jabber:x:data"
)

// FeatureNamespaces are the <register/> stream features advertised before
// authentication when registration is offered.
func FeatureNamespaces() []string { return []string{NSIBRToken, NSInvite, NSFeature} }

// Query is a jabber:iq:register payload as the server sends it (XEP-0077 §3.1).
type Query struct {
	// XMLName is the payload's name.
	XMLName xml.Name `xml:"jabber:iq:register query"`
	// Instructions tell the user what to do.
	Instructions string `xml:"instructions"`
	// Username is the legacy field, filled in when an invitation fixes the name.
	Username string `xml:"username"`
	// Password is the legacy field, always empty.
	Password string `xml:"password"`
	// Form is the same as a data form (XEP-0077 §4).
	Form *DataForm `xml:"jabber:x:data x,omitempty"`
}

// Registered is the payload of a successful registration's result when there is
// something to say: XEP-0077 allows the result to carry the query, and its
// instructions are what clients that show them display.
type Registered struct {
	// XMLName is the payload's name.
	XMLName xml.Name `xml:"jabber:iq:register query"`
	// Instructions say what happens next.
	Instructions string `xml:"instructions"`
}

// TextAwaitsApproval is what a registration whose account waits for approval is told,
// in its result; its login is refused with the same words until then.
const TextAwaitsApproval = "Your account was created and is waiting for an administrator's approval: you can sign in once it is approved."

// DataForm is the subset of an XEP-0004 form registration uses.
type DataForm struct {
	// XMLName is the form's name.
	XMLName xml.Name `xml:"jabber:x:data x"`
	// Type is "form" from the server, "submit" from the client.
	Type string `xml:"type,attr"`
	// Title is shown above the form.
	Title string `xml:"title,omitempty"`
	// Instructions are shown with the form.
	Instructions string `xml:"instructions,omitempty"`
	// Fields are the form's fields, FORM_TYPE first.
	Fields []FormField `xml:"field"`
}

// FormField is one field of a DataForm.
type FormField struct {
	// Var names the field.
	Var string `xml:"var,attr,omitempty"`
	// Type is the XEP-0004 field type, such as text-single.
	Type string `xml:"type,attr,omitempty"`
	// Label is the human-readable name.
	Label string `xml:"label,attr,omitempty"`
	// Desc describes the field, for clients that show it (XEP-0004 §3.2).
	Desc string `xml:"desc,omitempty"`
	// Required is non-nil for a required field.
	Required *struct{} `xml:"required"`
	// Values are the field's values.
	Values []string `xml:"value"`
}

// value returns the first value of the field named v.
func (f *DataForm) value(v string) (string, bool) {
	for _, fl := range f.Fields {
		if fl.Var == v {
			if len(fl.Values) == 0 {
				return "", true
			}
			return fl.Values[0], true
		}
	}
	return "", false
}

// FieldInvitation is the var of the registration form's optional field that takes an
// invitation (its page URL, its xmpp: URI or its token): in-app redemption for
// clients that show XEP-0077 data forms but take no invite links.
const FieldInvitation = "invitation"

// newQuery builds the answer to a get, with username filled in if not empty and,
// with invitation, the field that takes an invitation.
func newQuery(instructions, username string, invitation bool) Query {
	var vals []string
	if username != "" {
		vals = []string{username}
	}
	fields := []FormField{{Var: "FORM_TYPE", Type: "hidden", Values: []string{NS}}}
	if invitation {
		fields = append(fields, FormField{Var: FieldInvitation, Type: "text-single", Label: "Invitation",
			Desc: "The invitation link you were given (https://… or xmpp:…), or its code"})
	}
	fields = append(fields,
		FormField{Var: "username", Type: "text-single", Label: "Username", Required: &struct{}{}, Values: vals},
		FormField{Var: "password", Type: "text-private", Label: "Password", Required: &struct{}{}})
	return Query{
		Instructions: instructions,
		Username:     username,
		Form: &DataForm{
			Type:         "form",
			Title:        "Account registration",
			Instructions: instructions,
			Fields:       fields,
		},
	}
}

// Request is a registration set, from legacy fields or a submitted form.
type Request struct {
	// Username is the requested localpart, as the client wrote it.
	Username string
	// Password is the requested password.
	Password string
	// Invitation is the form's invitation field, as the client wrote it; "" when
	// there is none.
	Invitation string
	// Remove is set for <remove/> (cancel a registration).
	Remove bool
}

// ErrBadRequest means the payload could not be understood.
var ErrBadRequest = errors.New("register: malformed request")

// DecodeRequest decodes a jabber:iq:register set payload starting at start.
// A submitted data form wins over legacy fields. A form a client sends back with
// type 'form' rather than 'submit' (Psi+ 1.4 does) counts as submitted.
func DecodeRequest(d *xml.Decoder, start *xml.StartElement) (Request, error) {
	var q struct {
		Username *string    `xml:"username"`
		Password *string    `xml:"password"`
		Remove   *struct{}  `xml:"remove"`
		Forms    []DataForm `xml:"jabber:x:data x"`
	}
	if err := d.DecodeElement(&q, start); err != nil {
		return Request{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	var r Request
	if q.Remove != nil {
		r.Remove = true
		return r, nil
	}
	for _, f := range q.Forms {
		if f.Type != "submit" && f.Type != "form" {
			continue
		}
		if ft, ok := f.value("FORM_TYPE"); ok && ft != NS {
			return Request{}, fmt.Errorf("%w: FORM_TYPE %q", ErrBadRequest, ft)
		}
		r.Username, _ = f.value("username")
		r.Password, _ = f.value("password")
		r.Invitation, _ = f.value(FieldInvitation)
		return r, nil
	}
	if q.Username != nil {
		r.Username = *q.Username
	}
	if q.Password != nil {
		r.Password = *q.Password
	}
	return r, nil
}

// PreAuth is the XEP-0379 pre-auth IQ payload.
type PreAuth struct {
	// XMLName is the payload's name.
	XMLName xml.Name `xml:"urn:xmpp:pars:0 preauth"`
	// Token is the invitation's token.
	Token string `xml:"token,attr"`
}

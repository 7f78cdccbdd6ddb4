package adhoc_test

import (
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/adhoc"
)

func TestRoleAtLeast(t *testing.T) {
	for i, tc := range []struct {
		r, least adhoc.Role
		want     bool
	}{
		0: {adhoc.RoleNone, adhoc.RoleNone, true},
		1: {adhoc.RoleNone, adhoc.RoleUser, false},
		2: {adhoc.RoleUser, adhoc.RoleUser, true},
		3: {adhoc.RoleUser, adhoc.RoleAdmin, false},
		4: {adhoc.RoleAdmin, adhoc.RoleUser, true},
		5: {adhoc.RoleAdmin, adhoc.RoleAdmin, true},
		6: {"root", adhoc.RoleNone, false},
		7: {adhoc.RoleAdmin, "root", false},
		8: {"ADMIN", adhoc.RoleUser, false},
	} {
		if got := tc.r.AtLeast(tc.least); got != tc.want {
			t.Errorf("%d: %q.AtLeast(%q) = %v", i, tc.r, tc.least, got)
		}
	}
}

// TestValidate holds forms, requests and responses built in Go (as they arrive across
// the plugin boundary) to the rules the XML decoders apply.
func TestValidate(t *testing.T) {
	long := strings.Repeat("x", adhoc.DefaultMaxValueLen+1)
	field := func(v string, typ adhoc.FieldType, vals ...string) adhoc.Field {
		return adhoc.Field{Var: v, Type: typ, Values: vals}
	}
	lim := adhoc.Limits{MaxFields: 3, MaxItems: 2}
	for i, tc := range []struct {
		form *adhoc.Form
		want string // "" = valid; else part of the error text
	}{
		0:  {&adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{field("a", "", "1")}}, ""},
		1:  {&adhoc.Form{Type: "weird"}, "unknown form type"},
		2:  {&adhoc.Form{Type: adhoc.FormForm, Fields: []adhoc.Field{field("a", "colour")}}, "unknown field type"},
		3:  {&adhoc.Form{Type: adhoc.FormForm, Fields: []adhoc.Field{field("", adhoc.FieldTextSingle)}}, "without var"},
		4:  {&adhoc.Form{Type: adhoc.FormForm, Fields: []adhoc.Field{{Type: adhoc.FieldFixed, Values: []string{"note"}}}}, ""},
		5:  {&adhoc.Form{Type: adhoc.FormForm, Fields: []adhoc.Field{field("a", ""), field("a", "")}}, "duplicate field"},
		6:  {&adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{field("a", adhoc.FieldTextSingle, "1", "2")}}, "single-valued"},
		7:  {&adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{field("a", adhoc.FieldTextMulti, "1", "2")}}, ""},
		8:  {&adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{field("a", "", long)}}, "value too long"},
		9:  {&adhoc.Form{Type: adhoc.FormForm, Title: long}, "title too long"},
		10: {&adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{field("a", ""), field("b", ""), field("c", ""), field("d", "")}}, "too many fields"},
		11: {&adhoc.Form{Type: adhoc.FormResult, Items: [][]adhoc.Field{{field("a", "", "1")}}}, "without reported"},
		12: {&adhoc.Form{Type: adhoc.FormResult, Reported: []adhoc.Field{field("a", "")},
			Items: [][]adhoc.Field{{field("a", "", "1")}, {field("a", "", "2")}, {field("a", "", "3")}}}, "too many table items"},
		13: {&adhoc.Form{Type: adhoc.FormForm, Fields: []adhoc.Field{{Var: "a", Options: []adhoc.Option{{Label: long, Value: "v"}}}}}, "option too long"},
	} {
		err := tc.form.Validate(lim)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%d: %v", i, err)
		case tc.want != "" && (condOf(err) != adhoc.CondBadPayload || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%d: %v, want bad-payload with %q", i, err, tc.want)
		}
	}

	for i, tc := range []struct {
		req  adhoc.Request
		want adhoc.Condition
	}{
		0: {adhoc.Request{Node: "n", Form: &adhoc.Form{Type: adhoc.FormSubmit}}, ""},
		1: {adhoc.Request{Node: "n", Action: "jump"}, adhoc.CondMalformedAction},
		2: {adhoc.Request{Node: "n", SessionID: strings.Repeat("s", adhoc.MaxSessionIDLen+1)}, adhoc.CondBadSessionID},
		3: {adhoc.Request{Node: "n", Lang: strings.Repeat("l", 65)}, adhoc.CondBadLocale},
		4: {adhoc.Request{Node: "n", Form: &adhoc.Form{Type: adhoc.FormForm}}, adhoc.CondBadPayload},
		5: {adhoc.Request{Node: "n", Form: &adhoc.Form{Type: adhoc.FormSubmit, Reported: []adhoc.Field{{Var: "a"}}}}, adhoc.CondBadPayload},
		6: {adhoc.Request{Node: long}, adhoc.CondBadPayload},
	} {
		if got := condOf(tc.req.Validate(adhoc.Limits{})); got != tc.want {
			t.Errorf("request %d: %q, want %q", i, got, tc.want)
		}
	}

	for i, tc := range []struct {
		resp adhoc.Response
		want adhoc.Condition
	}{
		0: {adhoc.Response{Status: adhoc.StatusExecuting, Actions: []adhoc.Action{adhoc.ActionNext}, DefaultAction: adhoc.ActionNext}, ""},
		1: {adhoc.Response{Status: "running"}, adhoc.CondBadPayload},
		2: {adhoc.Response{Status: adhoc.StatusExecuting, Actions: []adhoc.Action{adhoc.ActionCancel}}, adhoc.CondBadPayload},
		3: {adhoc.Response{Status: adhoc.StatusCompleted, Notes: []adhoc.Note{{Type: "fatal"}}}, adhoc.CondBadPayload},
		4: {adhoc.Response{Status: adhoc.StatusCompleted, Form: &adhoc.Form{Type: "x"}}, adhoc.CondBadPayload},
	} {
		if got := condOf(tc.resp.Validate(adhoc.Limits{})); got != tc.want {
			t.Errorf("response %d: %q, want %q", i, got, tc.want)
		}
	}
}

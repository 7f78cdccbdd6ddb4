package commands_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/internal/commands"
	"github.com/xmpp-invites/invites/internal/core"
)

// inviteRows reads the invite list (see formRows).
func inviteRows(t testing.TB, f *adhoc.Form) []map[string]string {
	t.Helper()
	return formRows(t, f, "invites id kind status uses max-uses created expires created-by username note groups used-by")
}

// list runs "List invites" as who with a status choice ("" submits nothing).
func (e *env) list(t testing.TB, who, status string) []map[string]string {
	t.Helper()
	form := submit()
	if status != "" {
		form = submit("status", status)
	}
	resp, err := e.run(t, who, commands.NodeListInvites, form)
	if err != nil || resp.Status != adhoc.StatusCompleted {
		t.Fatalf("list invites as %s: %+v %v", who, resp, err)
	}
	return inviteRows(t, resp.Form)
}

// TestCreateAccountFields: create-account takes a lifetime, max-uses, a note and
// groups, and they reach the invite; malformed ones are refused with the field named.
func TestCreateAccountFields(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	start, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateAccount})
	if err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, fl := range start.Form.Fields {
		vars = append(vars, fl.Var+":"+string(fl.Type))
	}
	if got := strings.Join(vars, " "); got != "username:text-single ttl:text-single max-uses:text-single note:text-single groups:text-multi email:text-single welcome:text-multi approval:boolean" {
		t.Fatalf("form fields %q", got)
	}
	for i, tc := range []struct {
		form *adhoc.Form
		text string
	}{
		// Reasons name the field by its label, as people see it.
		0: {submit("max-uses", "two"), "Accounts it can make: "},
		1: {submit("max-uses", "-1"), "Accounts it can make: "},
		2: {submit("ttl", "forever"), "Valid for: "},
		3: {submit("ttl", "100d"), "longer than the maximum of 90 days"},
		4: {submit("note", strings.Repeat("n", core.MaxNoteLen+1)), "note"},
		5: {submit("note", "bidi \u202e"), "note"},
		6: {submit("email", "not an address"), "Send by email to: "},
		7: {submit("groups", "  "), ""}, // blank lines are no group: accepted below
	} {
		_, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateAccount, SessionID: start.SessionID, Action: adhoc.ActionComplete, Form: tc.form})
		if tc.text == "" {
			continue
		}
		if cond(err) != adhoc.CondNotAcceptable || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%d: %v, want not-acceptable about %q", i, err, tc.text)
		}
	}
	form := submit("ttl", "2d", "max-uses", "3", "note", "  spring course  ")
	form.Fields = append(form.Fields, adhoc.Field{Var: "groups", Values: []string{"team", " ", "course 2025 "}})
	start, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateAccount})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateAccount, SessionID: start.SessionID, Action: adhoc.ActionComplete, Form: form})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := e.svc.CheckInvite(ctx, host, tokenOf(t, field(resp.Form, "uri")))
	if err != nil {
		t.Fatal(err)
	}
	if inv.MaxUses != 3 || inv.Note != "spring course" || !slices.Equal(inv.Groups, []string{"team", "course 2025"}) ||
		inv.ExpiresAt.Sub(inv.CreatedAt) != 48*time.Hour {
		t.Fatalf("invite %+v", inv)
	}
	// max-uses 0: any number until it expires.
	resp, err = e.run(t, admin, commands.NodeCreateAccount, submit("max-uses", "0"))
	if err != nil {
		t.Fatal(err)
	}
	if inv, err := e.svc.CheckInvite(ctx, host, tokenOf(t, field(resp.Form, "uri"))); err != nil || inv.MaxUses != 0 {
		t.Fatalf("max-uses 0: %+v %v", inv, err)
	}
}

// TestListAndRevokeInvites: administrators list and revoke every invite of their host,
// users only the contact invites they made; a choice another user's invite is "no such
// invite"; labels are accepted as choices (Gajim); the list shows who used an invite.
func TestListAndRevokeInvites(t *testing.T) {
	e := newEnvWith(t, commands.Options{AllowUserInvites: true})
	ctx := context.Background()
	const carol = "carol@example.com/tablet"

	// An account invite for two by the admin, used twice; a contact invite each by bob
	// and carol; a key's invite.
	resp, err := e.run(t, admin, commands.NodeCreateAccount, submit("max-uses", "2", "note", "team"))
	if err != nil {
		t.Fatal(err)
	}
	teamTok := tokenOf(t, field(resp.Form, "uri"))
	for _, name := range []string{"ann", "ben"} {
		if _, err := e.svc.Redeem(ctx, core.Redemption{Host: host, Token: teamTok, Username: name}); err != nil {
			t.Fatal(err)
		}
	}
	bobResp, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeInvite})
	if err != nil {
		t.Fatal(err)
	}
	bobID := core.TokenID(tokenOf(t, field(bobResp.Form, "uri")))
	carolResp, err := e.exec(t, host, carol, adhoc.Request{Node: commands.NodeInvite})
	if err != nil {
		t.Fatal(err)
	}
	carolID := core.TokenID(tokenOf(t, field(carolResp.Form, "uri")))
	k, _, err := e.svc.CreateKey(ctx, core.KeySpec{Host: host, Name: "portal"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateKeyInvite(ctx, k, core.InviteSpec{}); err != nil {
		t.Fatal(err)
	}

	// The admin sees all four, newest first; the used one with both accounts.
	rows := e.list(t, admin, "")
	if len(rows) != 4 || rows[0]["created-by"] != "api/token/"+k.ID || rows[1]["id"] != carolID || rows[2]["id"] != bobID {
		t.Fatalf("admin's list: %v", rows)
	}
	team := rows[3]
	if team["status"] != "used" || team["uses"] != "2" || team["max-uses"] != "2" || team["note"] != "team" ||
		team["used-by"] != "ann@example.com, ben@example.com" || team["created-by"] != "xmpp:admin@example.com" ||
		!strings.Contains(team["line"], "used by ann@example.com, ben@example.com") {
		t.Errorf("the used invite: %v", team)
	}
	// Empty cells are "-" (profanity drops empty values, shifting the column).
	if rows[0]["note"] != "-" || rows[0]["username"] != "-" || rows[0]["used-by"] != "-" || team["username"] != "-" {
		t.Errorf("empty cells: %v", rows[0])
	}
	// Status filters, by value or by label.
	if rows := e.list(t, admin, "used"); len(rows) != 1 || rows[0]["note"] != "team" {
		t.Errorf("used: %v", rows)
	}
	if rows := e.list(t, admin, "Pending"); len(rows) != 3 {
		t.Errorf("Pending: %v", rows)
	}
	if _, err := e.run(t, admin, commands.NodeListInvites, submit("status", "lost")); cond(err) != adhoc.CondNotAcceptable {
		t.Errorf("unknown status: %v", err)
	}

	// Bob sees his own only.
	if rows := e.list(t, bob, ""); len(rows) != 1 || rows[0]["id"] != bobID || rows[0]["kind"] != "contact" {
		t.Fatalf("bob's list: %v", rows)
	}
	// Bob's revoke form offers his pending invite only; carol's is no such invite to him.
	start, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeRevokeInvites})
	if err != nil {
		t.Fatal(err)
	}
	fl, _ := start.Form.Field("invites")
	if fl.Type != adhoc.FieldListMulti || len(fl.Options) != 1 || fl.Options[0].Value != bobID ||
		fl.Options[0].Label != bobID+": contact invite of bob, expires "+humanExpiry(t, e, bobID) {
		t.Fatalf("bob's revoke form: %+v", fl)
	}
	_, err = e.exec(t, host, bob, adhoc.Request{Node: commands.NodeRevokeInvites, SessionID: start.SessionID, Action: adhoc.ActionComplete, Form: submit("invites", carolID)})
	if cond(err) != adhoc.CondNotAcceptable || !strings.Contains(err.Error(), "no such invite") {
		t.Fatalf("bob revoking carol's invite: %v", err)
	}
	if _, err := e.svc.CheckInvite(ctx, host, tokenOf(t, field(carolResp.Form, "uri"))); err != nil {
		t.Fatalf("carol's invite after bob's try: %v", err)
	}
	// By label, as Gajim submits it; the session lived on after the refusal.
	done, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeRevokeInvites, SessionID: start.SessionID, Action: adhoc.ActionNext, Form: submit("invites", fl.Options[0].Label)})
	if err != nil || done.Status != adhoc.StatusCompleted || len(done.Notes) != 1 || done.Notes[0].Text != "Revoked 1 invite: "+bobID+" (contact invite of bob, expires "+humanExpiry(t, e, bobID)+")." {
		t.Fatalf("bob revoking by label: %+v %v", done, err)
	}
	if _, err := e.svc.CheckInvite(ctx, host, tokenOf(t, field(bobResp.Form, "uri"))); !errors.Is(err, core.ErrRevoked) {
		t.Fatalf("bob's invite after revocation: %v", err)
	}
	if rows := e.list(t, bob, "revoked"); len(rows) != 1 || rows[0]["status"] != "revoked" {
		t.Errorf("bob's revoked list: %v", rows)
	}
	// Nothing left for bob to revoke: the command completes at once with a note.
	if resp, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeRevokeInvites}); err != nil || resp.Status != adhoc.StatusCompleted ||
		len(resp.Notes) != 1 || !strings.Contains(resp.Notes[0].Text, "no pending invites") {
		t.Fatalf("bob with nothing to revoke: %+v %v", resp, err)
	}

	// The admin revokes carol's and the key's at once.
	start, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeRevokeInvites})
	if err != nil {
		t.Fatal(err)
	}
	fl, _ = start.Form.Field("invites")
	if len(fl.Options) != 2 {
		t.Fatalf("admin's revoke form: %+v", fl)
	}
	done, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeRevokeInvites, SessionID: start.SessionID, Action: adhoc.ActionComplete,
		Form: &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: "invites", Values: []string{fl.Options[0].Value, fl.Options[1].Label, fl.Options[0].Value}}}}})
	if err != nil || len(done.Notes) != 1 || !strings.HasPrefix(done.Notes[0].Text, "Revoked 2 invites: ") {
		t.Fatalf("admin revoking two: %+v %v", done, err)
	}
	if rows := e.list(t, admin, "pending"); rows != nil {
		t.Errorf("pending after revoking all: %v", rows)
	}
	// An empty choice and nonsense are refused.
	for i, form := range []*adhoc.Form{submit(), submit("invites", "(AAAA)")} {
		start, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateAccount})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateAccount, SessionID: start.SessionID, Action: adhoc.ActionComplete}); err != nil {
			t.Fatal(err)
		}
		start, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeRevokeInvites})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeRevokeInvites, SessionID: start.SessionID, Action: adhoc.ActionComplete, Form: form}); cond(err) != adhoc.CondNotAcceptable {
			t.Errorf("%d: %v, want not-acceptable", i, err)
		}
	}
}

// TestResetInvite: an administrator makes a password reset invite for an existing
// account; for an unknown account the form is refused; users cannot run it.
func TestResetInvite(t *testing.T) {
	e := newEnv(t)
	e.auth.accounts = map[string]bool{"juliet@example.com": true}
	ctx := context.Background()
	start, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeResetInvite})
	if err != nil {
		t.Fatal(err)
	}
	if fl, ok := start.Form.Field("username"); !ok || !fl.Required {
		t.Fatalf("form %+v", start.Form)
	}
	for i, tc := range []struct {
		form *adhoc.Form
		text string
	}{
		0: {submit(), "required"},
		1: {submit("username", "romeo"), "there is no account romeo@example.com"},
		2: {submit("username", "a b"), "Username: "},
		3: {submit("username", "juliet", "ttl", "soon"), "Valid for: "},
	} {
		_, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeResetInvite, SessionID: start.SessionID, Action: adhoc.ActionComplete, Form: tc.form})
		if cond(err) != adhoc.CondNotAcceptable || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%d: %v, want not-acceptable about %q", i, err, tc.text)
		}
	}
	done, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeResetInvite, SessionID: start.SessionID, Action: adhoc.ActionComplete,
		Form: submit("username", "Juliet", "ttl", "1d", "note", "lost phone")})
	if err != nil {
		t.Fatal(err)
	}
	uri := field(done.Form, "uri")
	tok := tokenOf(t, uri)
	if uri != "xmpp:juliet@example.com?register;preauth="+tok || len(done.Notes) != 0 || !strings.Contains(fixedText(done.Form, "warning-"), "give it only to its owner") {
		t.Fatalf("result %+v", done)
	}
	inv, err := e.svc.CheckInvite(ctx, host, tok)
	if err != nil || inv.Kind != core.KindReset || inv.Username != "juliet" || inv.Note != "lost phone" || inv.MaxUses != 1 ||
		inv.ExpiresAt.Sub(inv.CreatedAt) != 24*time.Hour {
		t.Fatalf("invite %+v %v", inv, err)
	}
	// It resets juliet's password, and registers nothing.
	if _, err := e.svc.Redeem(ctx, core.Redemption{Host: host, Token: tok, Username: "juliet", Purpose: core.PurposeRegister}); err == nil {
		t.Fatal("a reset invite registered an account")
	}
	if _, err := e.svc.Redeem(ctx, core.Redemption{Host: host, Token: tok, Username: "juliet", Purpose: core.PurposeReset}); err != nil {
		t.Fatal(err)
	}
}

// TestChangeInvite: "Change an invite" shows the chosen invite's expiry, max_uses and
// note, applies what changed, refuses what the invite's state refuses, and offers a
// user only the invites the user made.
func TestChangeInvite(t *testing.T) {
	e := newEnvWith(t, commands.Options{AllowUserInvites: true})
	ctx := context.Background()
	two := 2
	adminInv, err := e.svc.CreateInvite(ctx, core.InviteSpec{Host: host, MaxUses: &two, Note: "course",
		Actor: core.Actor{Kind: core.ActorJID, ID: "admin@example.com", Manage: true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ann", "ben"} {
		if _, err := e.svc.Redeem(ctx, core.Redemption{Host: host, Token: adminInv.Token, Username: name}); err != nil {
			t.Fatal(err)
		}
	}
	bobResp, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeInvite})
	if err != nil {
		t.Fatal(err)
	}
	bobID := core.TokenID(tokenOf(t, field(bobResp.Form, "uri")))

	// Bob is offered his invite only.
	start, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeChangeInvite})
	if err != nil {
		t.Fatal(err)
	}
	if fl, _ := start.Form.Field("invite"); len(fl.Options) != 1 || fl.Options[0].Value != bobID {
		t.Fatalf("bob's choices: %+v", fl)
	}
	if _, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeChangeInvite, SessionID: start.SessionID, Action: adhoc.ActionNext,
		Form: submit("invite", adminInv.ID)}); cond(err) != adhoc.CondNotAcceptable {
		t.Fatalf("bob choosing the admin's invite: %v", err)
	}

	// The admin: the used invite, by label; the second stage shows its values.
	start, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeChangeInvite})
	if err != nil {
		t.Fatal(err)
	}
	fl, _ := start.Form.Field("invite")
	var label string
	for _, o := range fl.Options {
		if o.Value == adminInv.ID {
			label = o.Label
		}
	}
	if len(fl.Options) != 2 || !strings.HasPrefix(label, adminInv.ID+": course — account invite, used, expires ") {
		t.Fatalf("the admin's choices: %+v", fl)
	}
	second, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeChangeInvite, SessionID: start.SessionID, Action: adhoc.ActionNext,
		Form: submit("invite", label)})
	if err != nil || second.Status != adhoc.StatusExecuting {
		t.Fatalf("second stage: %+v %v", second, err)
	}
	if field(second.Form, "max-uses") != "2" || field(second.Form, "note") != "course" || field(second.Form, "expires") == "" {
		t.Fatalf("second stage form: %+v", second.Form)
	}
	// Below the uses: refused, the session lives on.
	_, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeChangeInvite, SessionID: start.SessionID, Action: adhoc.ActionComplete,
		Form: submit("expires", field(second.Form, "expires"), "max-uses", "1", "note", "course")})
	if cond(err) != adhoc.CondNotAcceptable || !strings.Contains(err.Error(), "below the 2 uses") || strings.Contains(err.Error(), "changing invite") {
		t.Fatalf("max-uses below the uses: %v", err)
	}
	done, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeChangeInvite, SessionID: start.SessionID, Action: adhoc.ActionNext,
		Form: submit("expires", "2d", "max-uses", "3", "note", "")})
	if err != nil || done.Status != adhoc.StatusCompleted || len(done.Notes) != 1 || !strings.Contains(done.Notes[0].Text, "pending, 2 of 3 uses") {
		t.Fatalf("change: %+v %v", done, err)
	}
	inv, err := e.svc.Invite(ctx, core.Actor{Kind: core.ActorCLI, Manage: true}, host, adminInv.ID)
	if err != nil || inv.MaxUses != 3 || inv.Note != "" || time.Until(inv.ExpiresAt) < 47*time.Hour || time.Until(inv.ExpiresAt) > 49*time.Hour {
		t.Fatalf("after the change: %+v %v", inv, err)
	}
	// Submitting the values as shown changes nothing.
	start, _ = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeChangeInvite})
	second, _ = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeChangeInvite, SessionID: start.SessionID, Action: adhoc.ActionNext, Form: submit("invite", adminInv.ID)})
	done, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeChangeInvite, SessionID: start.SessionID, Action: adhoc.ActionComplete,
		Form: submit("expires", field(second.Form, "expires"), "max-uses", field(second.Form, "max-uses"))})
	if err != nil || len(done.Notes) != 1 || done.Notes[0].Text != "Nothing changed." {
		t.Fatalf("unchanged: %+v %v", done, err)
	}
}

// TestFormsReadInEveryClient holds the forms to what Debian's clients need to show
// them: profanity lists a list's options with their labels only once the field has
// a value, its help only their values (the description of the delete and revoke
// lists names every choice by its label; the change form chooses the newest invite
// to begin with); poezio shows nothing of an option label wider than half its
// window (notes in labels are cut).
func TestFormsReadInEveryClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, _, err := e.svc.CreateKey(ctx, core.KeySpec{Host: host, Name: "portal"}); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a long note ", 10)
	inv, err := e.svc.CreateInvite(ctx, core.InviteSpec{Host: host, Note: long, Actor: core.Actor{Kind: core.ActorCLI, Manage: true}})
	if err != nil {
		t.Fatal(err)
	}
	newer, err := e.svc.CreateInvite(ctx, core.InviteSpec{Host: host, Actor: core.Actor{Kind: core.ActorCLI, Manage: true}})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		node, field string
		want        []string
	}{
		0: {commands.NodeDeleteKeys, "keys", nil},
		1: {commands.NodeRevokeInvites, "invites", nil},
		2: {commands.NodeChangeInvite, "invite", []string{newer.ID}},
	} {
		start, err := e.exec(t, host, admin, adhoc.Request{Node: tc.node})
		if err != nil {
			t.Fatal(err)
		}
		fl, _ := start.Form.Field(tc.field)
		if !slices.Equal(fl.Values, tc.want) {
			t.Errorf("%d: %s starts with %q, want %q", i, tc.field, fl.Values, tc.want)
		}
		if !strings.HasPrefix(fl.Desc, "The choices: ") || !strings.HasSuffix(fl.Desc, ".") {
			t.Errorf("%d: description %q", i, fl.Desc)
		}
		for _, o := range fl.Options {
			if !strings.Contains(fl.Desc, o.Label) {
				t.Errorf("%d: description %q lacks %q", i, fl.Desc, o.Label)
			}
			if n := len([]rune(o.Label)); n > 90 {
				t.Errorf("%d: label %q is %d characters long", i, o.Label, n)
			}
			// poezio shows only the first 45 characters or so of a list-multi option:
			// the ID comes first, and a note cannot push it away.
			if o.Value == inv.ID && !strings.HasPrefix(o.Label, inv.ID+": a long note a long note… — ") {
				t.Errorf("%d: label %q does not begin with the ID and the cut note", i, o.Label)
			}
		}
		if tc.node == commands.NodeChangeInvite {
			continue
		}
		// Blank values choose nothing.
		again, err := e.exec(t, host, admin, adhoc.Request{Node: tc.node, SessionID: start.SessionID, Action: adhoc.ActionComplete,
			Form: &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: tc.field, Values: []string{"", " "}}}}})
		if cond(err) != adhoc.CondNotAcceptable || !strings.Contains(err.Error(), "select at least one") || again.SessionID != start.SessionID {
			t.Errorf("%d: only blank values: %v", i, err)
		}
		// With a choice among them, the choice is done; the label of the long note
		// still names its invite.
		choice := fl.Options[len(fl.Options)-1].Label
		done, err := e.exec(t, host, admin, adhoc.Request{Node: tc.node, SessionID: start.SessionID, Action: adhoc.ActionComplete,
			Form: &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: tc.field, Values: []string{"", choice}}}}})
		if err != nil || done.Status != adhoc.StatusCompleted || len(done.Notes) != 1 || !strings.Contains(done.Notes[0].Text, "1 ") {
			t.Errorf("%d: blank and %q: %+v %v", i, choice, done, err)
		}
	}
	if _, err := e.svc.CheckInvite(ctx, host, inv.Token); !errors.Is(err, core.ErrRevoked) {
		t.Errorf("the invite with the long note, revoked by its cut label: %v", err)
	}
}

// TestChangeInviteUserBounds: a user may lower the uses of the invites the user made
// but not raise them (nor make them unlimited), since the user quota counts invites,
// not uses; an administrator may. The result says what the invite is now, note too.
func TestChangeInviteUserBounds(t *testing.T) {
	e := newEnvWith(t, commands.Options{AllowUserInvites: true})
	resp, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeInvite})
	if err != nil {
		t.Fatal(err)
	}
	id := core.TokenID(tokenOf(t, field(resp.Form, "uri")))
	change := func(who, maxUses, note string) (adhoc.Response, error) {
		t.Helper()
		start, err := e.exec(t, host, who, adhoc.Request{Node: commands.NodeChangeInvite})
		if err != nil {
			t.Fatal(err)
		}
		if who == bob && strings.Contains(start.Form.Instructions[0], "more uses") {
			t.Errorf("bob is told more uses would help: %q", start.Form.Instructions)
		}
		second, err := e.exec(t, host, who, adhoc.Request{Node: commands.NodeChangeInvite, SessionID: start.SessionID, Action: adhoc.ActionNext, Form: submit("invite", id)})
		if err != nil {
			t.Fatal(err)
		}
		return e.exec(t, host, who, adhoc.Request{Node: commands.NodeChangeInvite, SessionID: start.SessionID, Action: adhoc.ActionComplete,
			Form: submit("expires", field(second.Form, "expires"), "max-uses", maxUses, "note", note)})
	}
	for _, n := range []string{"5", "0"} {
		if _, err := change(bob, n, ""); cond(err) != adhoc.CondNotAcceptable || !strings.Contains(err.Error(), "Times it can be used: you can lower it (it is 1), not raise it") {
			t.Errorf("bob raising max-uses to %s: %v", n, err)
		}
	}
	done, err := change(admin, "3", "for the team")
	if err != nil || len(done.Notes) != 1 || !strings.HasSuffix(done.Notes[0].Text, ", 0 of 3 uses, expires "+humanExpiry(t, e, id)+" (in 7 days), note: for the team.") {
		t.Fatalf("the admin raising it: %+v %v", done, err)
	}
	if done, err := change(bob, "2", "for the team"); err != nil || !strings.Contains(done.Notes[0].Text, "0 of 2 uses") {
		t.Fatalf("bob lowering it: %+v %v", done, err)
	}
}

// humanExpiry is the invite's expiry as results write it for people.
func humanExpiry(t *testing.T, e *env, id string) string {
	t.Helper()
	inv, err := e.svc.Invite(context.Background(), core.Actor{Kind: core.ActorCLI, Manage: true}, host, id)
	if err != nil {
		t.Fatal(err)
	}
	return inv.ExpiresAt.UTC().Format("2006-01-02 15:04") + " UTC"
}

// TestChangeFormFieldsByKind: the change form offers max-uses in the words of the
// invite's kind, and not where it does not apply (issue 22: "Accounts it can make" on
// contact invites that cannot make accounts).
func TestChangeFormFieldsByKind(t *testing.T) {
	ctx := context.Background()
	for i, tc := range []struct {
		opts commands.Options
		spec core.InviteSpec
		want string // var:label of the fields
	}{
		0: {spec: core.InviteSpec{Kind: core.KindAccount},
			want: "expires:Expires max-uses:Accounts it can make note:Note"},
		1: {spec: core.InviteSpec{Kind: core.KindContact, Inviter: "bob"},
			want: "expires:Expires max-uses:Contacts it can add note:Note"},
		2: {spec: core.InviteSpec{Kind: core.KindContact, Inviter: "bob", AllowRegister: true},
			want: "expires:Expires max-uses:Times it can be used note:Note"},
		3: {spec: core.InviteSpec{Kind: core.KindReset, Username: "bob"},
			want: "expires:Expires note:Note"},
		4: {spec: core.InviteSpec{Kind: core.KindAccount, Username: "carol"},
			want: "expires:Expires note:Note"},
	} {
		e := newEnv(t)
		spec := tc.spec
		spec.Host, spec.Actor = host, core.Actor{Kind: core.ActorJID, ID: "admin@example.com", Manage: true}
		inv, err := e.svc.CreateInvite(ctx, spec)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		start, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeChangeInvite})
		if err != nil {
			t.Fatal(err)
		}
		second, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeChangeInvite, SessionID: start.SessionID,
			Action: adhoc.ActionNext, Form: submit("invite", inv.ID)})
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		var got []string
		for _, fl := range second.Form.Fields {
			got = append(got, fl.Var+":"+fl.Label)
			if strings.Contains(fl.Desc, "accounts") && inv.Kind != core.KindAccount {
				t.Errorf("%d: %s speaks of accounts: %q", i, fl.Var, fl.Desc)
			}
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("%d: fields %q, want %q", i, g, tc.want)
		}
		// Submitted without max-uses, the change goes through.
		done, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeChangeInvite, SessionID: start.SessionID,
			Action: adhoc.ActionComplete, Form: submit("expires", "2d", "note", "changed")})
		if err != nil || done.Status != adhoc.StatusCompleted || !strings.Contains(done.Notes[0].Text, "note: changed") {
			t.Errorf("%d: %+v %v", i, done, err)
		}
	}
}

// TestChangeInviteRevivalQuota (issue 21, LOW 1): a user who let an invite expire and
// made a new one cannot revive the old one past user_quota.outstanding by extending its
// expiry: the command answers resource-constraint, as making a new one would.
func TestChangeInviteRevivalQuota(t *testing.T) {
	e := newEnvWith(t, commands.Options{UserQuota: core.Quota{Outstanding: 1}})
	ctx := context.Background()
	resp, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeInvite})
	if err != nil {
		t.Fatal(err)
	}
	old := core.TokenID(tokenOf(t, field(resp.Form, "uri")))
	inv, err := e.svc.Invite(ctx, core.Actor{Kind: core.ActorCLI}, host, old)
	if err != nil {
		t.Fatal(err)
	}
	// It expires (an administrator ends it now).
	if _, err := e.svc.UpdateInvite(ctx, core.Actor{Kind: core.ActorCLI}, host, old, core.InvitePatch{ExpiresAt: &inv.CreatedAt}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeInvite}); err != nil {
		t.Fatalf("a new invite once the old one expired: %v", err)
	}
	start, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeChangeInvite})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeChangeInvite, SessionID: start.SessionID, Action: adhoc.ActionNext, Form: submit("invite", old)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.exec(t, host, bob, adhoc.Request{Node: commands.NodeChangeInvite, SessionID: start.SessionID, Action: adhoc.ActionComplete,
		Form: submit("expires", "7d", "max-uses", "1")})
	if cond(err) != adhoc.CondResourceConstraint || !strings.Contains(err.Error(), "1 waiting to be used at once") {
		t.Fatalf("reviving past the quota: %v", err)
	}
	if got, _ := e.svc.Invite(ctx, core.Actor{Kind: core.ActorCLI}, host, old); got.Status(time.Now()) != core.StatusExpired {
		t.Fatalf("the old invite is %s, want still expired", got.Status(time.Now()))
	}
}

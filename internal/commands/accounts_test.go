package commands_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/internal/commands"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
	"github.com/xmpp-invites/invites/internal/store/storetest"
)

// newAccountsEnv is newEnv with a host whose server can set its accounts' states.
func newAccountsEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{Durability: sqlite.DurabilityCrash})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: host, AccountStates: true}}})
	if err != nil {
		t.Fatal(err)
	}
	auth := &admins{set: map[string]bool{"admin@example.com": true}}
	srv, err := commands.New(svc, auth, commands.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, srv: srv, store: st, auth: auth}
}

// buildTree builds a tree of depth 8 below root through real redemptions.
func buildTree(t *testing.T, svc *core.Service, root string) *storetest.TreeNode {
	invite := func(ctx context.Context, jid string, max int) (core.Invite, error) {
		return svc.CreateInvite(ctx, core.InviteSpec{Host: host, Kind: core.KindContact, Inviter: strings.Split(jid, "@")[0],
			AllowRegister: true, MaxUses: &max, Actor: core.Actor{Kind: core.ActorJID, ID: jid}})
	}
	register := func(ctx context.Context, inv core.Invite, name string) (string, error) {
		_, err := svc.Redeem(ctx, core.Redemption{Host: host, Token: inv.Token, Username: name})
		return name + "@" + host, err
	}
	return storetest.BuildTree(t.Context(), t, root, 4, 2, invite, register)
}

// TreeLines runs the tree command for root and returns its nodes below the root, a
// line each as storetest.TreeNode.PreOrder writes them, read from the columns of every
// page; it checks that every line for people fits entryWidth.
func (e *env) treeLines(t *testing.T, root, depth string) []string {
	t.Helper()
	resp, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeTree})
	if err != nil || resp.Status != adhoc.StatusExecuting {
		t.Fatalf("tree: %+v, %v", resp, err)
	}
	req := adhoc.Request{Node: commands.NodeTree, SessionID: resp.SessionID, Action: adhoc.ActionComplete,
		Form: &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: "root", Values: []string{root}}, {Var: "depth", Values: []string{depth}}}}}
	var out []string
	for page := 0; ; page++ {
		resp, err := e.exec(t, host, admin, req)
		if err != nil {
			t.Fatalf("tree page %d: %v", page+1, err)
		}
		if resp.Form == nil {
			t.Fatalf("tree page %d: no form, notes %+v", page+1, resp.Notes)
		}
		cols := map[string][]string{}
		for _, fl := range resp.Form.Fields {
			cols[fl.Var] = fl.Values
		}
		for _, l := range cols["tree"] {
			if n := utf8.RuneCountInString(l); n > 50 {
				t.Errorf("a line of %d characters: %q", n, l)
			}
		}
		for i, id := range cols["id"] {
			d, _ := strconv.Atoi(cols["depth"][i])
			if d > 0 {
				out = append(out, strings.Repeat("  ", d)+id)
			}
		}
		if resp.Status != adhoc.StatusExecuting {
			return out
		}
		req = adhoc.Request{Node: commands.NodeTree, SessionID: resp.SessionID, Action: adhoc.ActionNext}
	}
}

// TestTreeCommand: the tree command shows the tree built through redemptions, page by
// page, in lines of at most 50 characters; --depth bounds it; an unknown root is
// refused in the form.
func TestTreeCommand(t *testing.T) {
	e := newAccountsEnv(t)
	built := buildTree(t, e.svc, "root@example.com")
	want := built.PreOrder()
	if got := e.treeLines(t, "root", ""); !slices.Equal(got, want) {
		t.Fatalf("tree:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := e.treeLines(t, built.Children[0].ID, "1"); len(got) != 2 {
		t.Errorf("accounts of an invite: %v", got)
	}
	if r, err := e.run(t, admin, commands.NodeTree, &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: "root", Values: []string{"nobody"}}}}); err != nil ||
		r.Status != adhoc.StatusCompleted || r.Notes[0].Text != "Nobody the plugin knows of was invited by nobody." {
		t.Errorf("an account the plugin does not know: %+v, %v", r, err)
	}
	if _, err := e.run(t, admin, commands.NodeTree, &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: "root", Values: []string{"key:AAAAAAAAAAAA"}}}}); err == nil ||
		!strings.Contains(err.Error(), `Account, invite or key: no account, invite or key "AAAAAAAAAAAA" here`) {
		t.Errorf("an unknown key: %v", err)
	}
	// The form offers the requester's own tree.
	resp, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeTree})
	if root, _ := resp.Form.Field("root"); err != nil || len(root.Values) != 1 || root.Values[0] != "admin@example.com" {
		t.Errorf("the root offered: %+v, %v", root, err)
	}
	if _, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeTree}); err == nil {
		t.Error("a user ran the tree command")
	}
}

// TestApprovalCommand: the pending accounts are listed with their notes and inviters;
// chosen ones are approved or rejected; with none, the command says so at once.
func TestApprovalCommand(t *testing.T) {
	e := newAccountsEnv(t)
	ctx := t.Context()
	inv, err := e.svc.CreateInvite(ctx, core.InviteSpec{Host: host, Approval: true, MaxUses: func(n int) *int { return &n }(3),
		Actor: core.Actor{Kind: core.ActorJID, ID: "admin@example.com", Manage: true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"anna", "bert", "cleo"} {
		if _, err := e.svc.Redeem(ctx, core.Redemption{Host: host, Token: inv.Token, Username: name}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.Registered(ctx, host, "anna@example.com", "Bert's sister"); err != nil {
		t.Fatal(err)
	}
	resp, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeApproval})
	if err != nil || resp.Form == nil {
		t.Fatalf("approval form: %+v, %v", resp, err)
	}
	waiting, _ := resp.Form.Field("waiting")
	text := strings.Join(waiting.Values, "\n")
	if !strings.Contains(text, "anna@example.com") || !strings.Contains(text, "note: Bert's sister") || !strings.Contains(text, "invited by admin@example.com") {
		t.Errorf("waiting:\n%s", text)
	}
	submit := func(decision string, jids ...string) adhoc.Response {
		t.Helper()
		resp, err := e.run(t, admin, commands.NodeApproval, &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{
			{Var: "accounts", Values: jids}, {Var: "decision", Values: []string{decision}}}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if r := submit("approve", "anna@example.com", "cleo@example.com"); r.Status != adhoc.StatusCompleted || r.Notes[0].Text != "Approved: anna@example.com, cleo@example.com." {
		t.Errorf("approve: %+v", r)
	}
	if r := submit("Reject", "bert@example.com"); r.Notes[0].Text != "Rejected: bert@example.com." {
		t.Errorf("reject by its label: %+v", r)
	}
	for jid, st := range map[string]core.AccountState{"anna@example.com": core.AccountActive, "bert@example.com": core.AccountDeleted, "cleo@example.com": core.AccountActive} {
		if a, err := e.store.Account(ctx, jid); err != nil || a.State != st {
			t.Errorf("%s: %s, %v; want %s", jid, a.State, err, st)
		}
	}
	resp, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeApproval})
	if err != nil || resp.Status != adhoc.StatusCompleted || len(resp.Notes) != 1 || !strings.Contains(resp.Notes[0].Text, "No account is waiting") {
		t.Errorf("nothing pending: %+v, %v", resp, err)
	}
}

// TestBulkCommand: the bulk command shows its dry run for confirmation; unconfirmed it
// changes nothing, confirmed it changes exactly what the dry run listed; a server that
// cannot disable accounts refuses in the form.
func TestBulkCommand(t *testing.T) {
	e := newAccountsEnv(t)
	built := buildTree(t, e.svc, "root@example.com")
	below := built.Children[1].Children[0].Children[0].Children[0] // an account of the second generation
	scope := below.ID
	first := &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: "root", Values: []string{scope}},
		{Var: "action", Values: []string{"Disable the accounts"}}, {Var: "subtree", Values: []string{"true"}}}}
	run := func(confirm string) (adhoc.Response, []string) {
		t.Helper()
		resp, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeBulk})
		if err != nil {
			t.Fatal(err)
		}
		resp, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeBulk, SessionID: resp.SessionID, Action: adhoc.ActionNext, Form: first})
		if err != nil || resp.Form == nil {
			t.Fatalf("confirmation: %+v, %v", resp, err)
		}
		changes, _ := resp.Form.Field("changes")
		resp, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeBulk, SessionID: resp.SessionID, Action: adhoc.ActionComplete,
			Form: &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: "confirm", Values: []string{confirm}}}}})
		if err != nil {
			t.Fatal(err)
		}
		return resp, changes.Values
	}
	disabled := func() []string {
		var out []string
		for _, l := range e.treeLines(t, "root", "") {
			if a, err := e.store.Account(t.Context(), strings.TrimSpace(l)); err == nil && a.State == core.AccountDisabled {
				out = append(out, "account "+a.JID)
			}
		}
		return out
	}
	resp, dry := run("false")
	if resp.Notes[0].Text != "Nothing changed." || len(disabled()) != 0 {
		t.Fatalf("unconfirmed: %+v, disabled %v", resp, disabled())
	}
	want := below.Count(core.NodeAccount)
	if len(dry) != want {
		t.Fatalf("the dry run lists %d, want %d: %v", len(dry), want, dry)
	}
	resp, again := run("true")
	if resp.Notes[0].Text != "Disabled "+strconv.Itoa(want)+" active accounts." || !slices.Equal(again, dry) {
		t.Fatalf("confirmed: %+v (dry run %v)", resp, again)
	}
	got := disabled()
	slices.Sort(got)
	slices.Sort(dry)
	if !slices.Equal(got, dry) {
		t.Errorf("disabled %v, the dry run listed %v", got, dry)
	}
	// A server that cannot disable accounts.
	plain := newEnv(t)
	buildTree(t, plain.svc, "root@example.com")
	r, err := plain.exec(t, host, admin, adhoc.Request{Node: commands.NodeBulk})
	if err != nil {
		t.Fatal(err)
	}
	_, err = plain.exec(t, host, admin, adhoc.Request{Node: commands.NodeBulk, SessionID: r.SessionID, Action: adhoc.ActionNext, Form: first})
	if err == nil || !strings.Contains(err.Error(), "this server cannot disable accounts") {
		t.Errorf("disable there: %v", err)
	}
}

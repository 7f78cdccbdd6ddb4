package commands_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/adhoc/adhoctest"
	"github.com/xmpp-invites/invites/internal/commands"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
	"github.com/xmpp-invites/invites/plugin"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
)

var _ commands.AccountChecker = plugin.HostAPI(nil)

const (
	host  = "example.com"
	admin = "admin@example.com/desk"
	bob   = "bob@example.com/phone"
	eve   = "eve@elsewhere.example/x"
)

// admins plays the host: it gives each request the requester's role (administrators
// are a fixed set of bare JIDs, each of its own domain; any other account of the host
// is a user), and knows which accounts exist, as plugin.HostAPI does.
type admins struct {
	set      map[string]bool
	accounts map[string]bool
}

func (a *admins) AccountExists(_ context.Context, j string) (bool, error) {
	return a.accounts[j], nil
}

// role is what the host says requester is on h.
func (a *admins) role(h, requester string) adhoc.Role {
	j, err := jid.Parse(requester)
	if err != nil || j.Localpart() == "" || j.Domainpart() != h {
		return adhoc.RoleNone
	}
	if a.set[j.Bare().String()] {
		return adhoc.RoleAdmin
	}
	return adhoc.RoleUser
}

type env struct {
	svc   *core.Service
	srv   *commands.Server
	store *sqlite.Store
	auth  *admins
}

// newEnv runs the commands over a real core.Service on a real SQLite store, with the
// default options.
func newEnv(t testing.TB) *env { return newEnvWith(t, commands.Options{}) }

// newEnvWith is newEnv with options.
func newEnvWith(t testing.TB, opts commands.Options) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := core.NewService(core.Options{
		Store: st,
		Hosts: []core.HostConfig{
			{Domain: host, LandingPage: "https://example.com/invite?{token}"},
			{Domain: "plain.example"},
		},
		Mail: true, // invites may be mailed (delivery_test.go)
	})
	if err != nil {
		t.Fatal(err)
	}
	auth := &admins{set: map[string]bool{"admin@example.com": true, "root@plain.example": true}}
	srv, err := commands.New(svc, auth, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, srv: srv, store: st, auth: auth}
}

// exec runs one request. A refused value, which the commands answer with the stage's
// form again and the reason at its top (so that people can correct it), is returned
// as the not-acceptable *adhoc.Error it was, with the reason, beside the response.
func (e *env) exec(t testing.TB, h, who string, req adhoc.Request) (adhoc.Response, error) {
	t.Helper()
	req.Requester = who
	req.Role = e.auth.role(h, who)
	resp, err := e.srv.Execute(context.Background(), h, req)
	if err == nil && resp.Status == adhoc.StatusExecuting {
		if r := fixedText(resp.Form, "error-"); r != "" {
			return resp, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: r}
		}
	}
	return resp, err
}

// fixedText returns the text of the fixed fields of f whose var begins with prefix
// ("error-", "warning-", "note-": the notes the commands write at the top of a form),
// their lines joined by spaces, without the padding.
func fixedText(f *adhoc.Form, prefix string) string {
	if f == nil {
		return ""
	}
	var lines []string
	for _, fl := range f.Fields {
		if fl.Type == adhoc.FieldFixed && strings.HasPrefix(fl.Var, prefix) && len(fl.Values) == 1 {
			lines = append(lines, strings.TrimRight(fl.Values[0], " "))
		}
	}
	return strings.Join(lines, " ")
}

// run executes a one-stage command: execute, then complete with the form.
func (e *env) run(t testing.TB, who, node string, form *adhoc.Form) (adhoc.Response, error) {
	t.Helper()
	resp, err := e.exec(t, host, who, adhoc.Request{Node: node})
	if err != nil || resp.Status != adhoc.StatusExecuting {
		return resp, err
	}
	return e.exec(t, host, who, adhoc.Request{Node: node, SessionID: resp.SessionID, Action: adhoc.ActionComplete, Form: form})
}

func (e *env) keys(t testing.TB, h string) []core.Key {
	t.Helper()
	keys, err := e.svc.Keys(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func submit(kv ...string) *adhoc.Form {
	f := &adhoc.Form{Type: adhoc.FormSubmit}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Fields = append(f.Fields, adhoc.Field{Var: kv[i], Values: []string{kv[i+1]}})
	}
	return f
}

func cond(err error) adhoc.Condition {
	var ae *adhoc.Error
	if errors.As(err, &ae) {
		return ae.Condition
	}
	if err != nil {
		return adhoc.Condition("other: " + err.Error())
	}
	return ""
}

func TestVisibility(t *testing.T) {
	e := newEnv(t)
	all := strings.Join([]string{commands.NodeCreateKey, commands.NodeListKeys, commands.NodeDeleteKeys, commands.NodeCreateAccount,
		commands.NodeInvite, commands.NodeListInvites, commands.NodeChangeInvite, commands.NodeRevokeInvites, commands.NodeResetInvite, commands.NodeTree, commands.NodeApproval, commands.NodeBulk}, " ")
	user := strings.Join([]string{commands.NodeInvite, commands.NodeListInvites, commands.NodeChangeInvite, commands.NodeRevokeInvites}, " ")
	for i, tc := range []struct {
		host, who, want string
	}{
		0: {host, admin, all},
		1: {host, bob, user},
		2: {host, eve, ""},
		3: {"plain.example", admin, ""},
		4: {"plain.example", "root@plain.example/r", all},
		5: {"unserved.example", admin, ""},
		6: {host, "example.com", ""},
	} {
		cmds, err := e.srv.Commands(context.Background(), tc.host, tc.who, e.auth.role(tc.host, tc.who))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range cmds {
			if c.Name == "" {
				t.Errorf("%d: %s has no name", i, c.Node)
			}
			got = append(got, c.Node)
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("%d: %q, want %q", i, g, tc.want)
		}
	}
}

func TestForbidden(t *testing.T) {
	e := newEnv(t)
	adminSession, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateKey})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		who  string
		req  adhoc.Request
		want adhoc.Condition
	}{
		0:  {bob, adhoc.Request{Node: commands.NodeCreateKey}, adhoc.CondForbidden},
		1:  {bob, adhoc.Request{Node: commands.NodeListKeys}, adhoc.CondForbidden},
		2:  {bob, adhoc.Request{Node: commands.NodeDeleteKeys}, adhoc.CondForbidden},
		3:  {bob, adhoc.Request{Node: commands.NodeCreateAccount}, adhoc.CondForbidden},
		4:  {bob, adhoc.Request{Node: commands.NodeCreateKey, SessionID: adminSession.SessionID, Action: adhoc.ActionComplete, Form: submit("name", "x")}, adhoc.CondForbidden},
		5:  {eve, adhoc.Request{Node: commands.NodeInvite}, adhoc.CondForbidden},
		6:  {admin, adhoc.Request{Node: "http://jabber.org/protocol/admin#add-user"}, adhoc.CondItemNotFound},
		7:  {"admin@example.com/other", adhoc.Request{Node: commands.NodeCreateKey, SessionID: adminSession.SessionID, Action: adhoc.ActionComplete, Form: submit("name", "x")}, adhoc.CondBadSessionID},
		8:  {bob, adhoc.Request{Node: commands.NodeResetInvite}, adhoc.CondForbidden},
		9:  {eve, adhoc.Request{Node: commands.NodeListInvites}, adhoc.CondForbidden},
		10: {eve, adhoc.Request{Node: commands.NodeRevokeInvites}, adhoc.CondForbidden},
	} {
		if _, err := e.exec(t, host, tc.who, tc.req); cond(err) != tc.want {
			t.Errorf("%d: %v, want %s", i, err, tc.want)
		}
	}
	if n := len(e.keys(t, host)); n != 0 {
		t.Fatalf("%d keys created", n)
	}
	// Rights are asked on every request: revoked, the open session is refused.
	delete(e.auth.set, "admin@example.com")
	_, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateKey, SessionID: adminSession.SessionID, Action: adhoc.ActionComplete, Form: submit("name", "x")})
	if cond(err) != adhoc.CondForbidden {
		t.Fatalf("after revocation: %v", err)
	}
	// A role the commands do not know grants nothing (the host failing to tell a role
	// is the Handler's to answer: see adhoc's TestHandlerRole).
	if cmds, err := e.srv.Commands(context.Background(), host, admin, "root"); err != nil || len(cmds) != 0 {
		t.Fatalf("unknown role lists %v, %v", cmds, err)
	}
	if _, err := e.srv.Execute(context.Background(), host, adhoc.Request{Requester: admin, Role: "root", Node: commands.NodeListKeys}); cond(err) != adhoc.CondForbidden {
		t.Fatalf("with an unknown role: %v", err)
	}
}

func field(f *adhoc.Form, v string) string {
	if f == nil {
		return "<no form>"
	}
	return f.Value(v)
}

func TestCreateKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	resp, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateKey})
	if err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, fl := range resp.Form.Fields {
		vars = append(vars, fl.Var+":"+string(fl.Type))
	}
	if got := strings.Join(vars, " "); got != "name:text-single expires:text-single max-ttl:text-single rate:text-single manage:boolean" {
		t.Fatalf("form fields %q", got)
	}
	// One stage: next and complete both complete (poezio sends next).
	if !slices.Equal(resp.Actions, []adhoc.Action{adhoc.ActionNext, adhoc.ActionComplete}) || resp.DefaultAction != adhoc.ActionComplete {
		t.Fatalf("actions %v default %v", resp.Actions, resp.DefaultAction)
	}
	resp, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateKey, SessionID: resp.SessionID, Action: adhoc.ActionComplete,
		Form: submit("name", " portal ", "expires", "30d", "max-ttl", "2d", "rate", "10/h")})
	if err != nil {
		t.Fatal(err)
	}
	// The warning comes once, at the top of the result form, and not as a note too.
	if resp.Status != adhoc.StatusCompleted || len(resp.Notes) != 0 || !strings.Contains(fixedText(resp.Form, "warning-"), "cannot be shown again") {
		t.Fatalf("%+v", resp)
	}
	cred := field(resp.Form, "key")
	k, err := e.svc.Authenticate(ctx, cred)
	if err != nil {
		t.Fatalf("the new key %q does not authenticate: %v", cred, err)
	}
	if k.Name != "portal" || k.Host != host || k.MaxTTL != 48*time.Hour || k.Rate != (core.Rate{N: 10, Period: time.Hour}) ||
		k.ExpiresAt.Sub(k.CreatedAt) != 30*24*time.Hour || field(resp.Form, "id") != k.ID || resp.Form.Type != adhoc.FormResult {
		t.Fatalf("key %+v from %+v", k, resp.Form)
	}
	// The key is in the store, for the command line and the HTTP API.
	keys := e.keys(t, host)
	if len(keys) != 1 || keys[0].ID != k.ID {
		t.Fatalf("%+v", keys)
	}
	if _, err := e.svc.CreateKeyInvite(ctx, k, core.InviteSpec{}); err != nil {
		t.Fatalf("the new key cannot create invites: %v", err)
	}
}

func TestCreateKeyMalformed(t *testing.T) {
	e := newEnv(t)
	start, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateKey})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		form *adhoc.Form
		want adhoc.Condition
	}{
		0:  {submit(), adhoc.CondNotAcceptable},
		1:  {submit("name", "   "), adhoc.CondNotAcceptable},
		2:  {submit("name", "x", "expires", "soon"), adhoc.CondNotAcceptable},
		3:  {submit("name", "x", "expires", "-5"), adhoc.CondNotAcceptable},
		4:  {submit("name", "x", "max-ttl", "1000000w"), adhoc.CondNotAcceptable},
		5:  {submit("name", "x", "rate", "10"), adhoc.CondNotAcceptable},
		6:  {submit("name", "x", "rate", "0/h"), adhoc.CondNotAcceptable},
		7:  {submit("name", "x", "rate", "10/fortnight"), adhoc.CondNotAcceptable},
		8:  {submit("name", strings.Repeat("n", core.MaxKeyNameLen+1)), adhoc.CondNotAcceptable},
		9:  {submit("name", "bell\x07"), adhoc.CondNotAcceptable},
		10: {&adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: "name", Values: []string{"a", "b"}}}}, adhoc.CondBadPayload},
		11: {&adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: "name", Type: adhoc.FieldTextSingle, Values: []string{"a", "b"}}}}, adhoc.CondBadPayload},
		12: {&adhoc.Form{Type: adhoc.FormCancel}, adhoc.CondBadPayload},
		13: {&adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: "name", Values: []string{"a"}}, {Var: "name", Values: []string{"b"}}}}, adhoc.CondBadPayload},
	} {
		_, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateKey, SessionID: start.SessionID, Action: adhoc.ActionComplete, Form: tc.form})
		if cond(err) != tc.want {
			t.Errorf("%d: %v, want %s", i, err, tc.want)
		}
		var ae *adhoc.Error
		if errors.As(err, &ae) && ae.Condition == adhoc.CondNotAcceptable && ae.Text == "" {
			t.Errorf("%d: not-acceptable without a reason", i)
		}
		if n := len(e.keys(t, host)); n != 0 {
			t.Fatalf("%d: %d keys in the store after a malformed form", i, n)
		}
	}
	// The session survived the mistakes.
	resp, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateKey, SessionID: start.SessionID, Action: adhoc.ActionComplete, Form: submit("name", "fixed")})
	if err != nil || resp.Status != adhoc.StatusCompleted {
		t.Fatalf("%+v %v", resp, err)
	}
	if n := len(e.keys(t, host)); n != 1 {
		t.Fatalf("%d keys", n)
	}
}

// table reads the key list: a single-item result form (no <reported/> table, which
// Gajim cannot show) with a text-multi field per column, one value per key, and a
// "keys" field with a line per key. An empty list has no form.
// entries reads the field for people of a list: an entry is a line and the lines
// indented by two spaces after it, none longer than 50 characters (poezio shows no
// wider value); each entry comes back on one line, its lines joined by spaces.
func entries(t testing.TB, lines []string) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		if n := len([]rune(l)); n > 50 {
			t.Errorf("line %q is %d characters long", l, n)
		}
		// A part that fits a line is not cut: a time stays on one line.
		if i := strings.Index(l, "expires 2"); i >= 0 && !strings.Contains(l[i:], " UTC") {
			t.Errorf("line %q cuts an expiry", l)
		}
		if rest, ok := strings.CutPrefix(l, "  "); ok && len(out) > 0 {
			out[len(out)-1] += " " + rest
			continue
		}
		out = append(out, l)
	}
	return out
}

// table reads the key list (see formRows).
func table(t testing.TB, f *adhoc.Form) []map[string]string {
	t.Helper()
	return formRows(t, f, "keys id name created expires last-used uses manage max-ttl rate")
}

// formRows reads a page of a list as the commands answer one: a single-item form
// (a result, or a form while more pages follow) whose first field is a fixed "page"
// saying which entries it shows, then a text-multi field with a line per entry, then
// a text-multi field per column, one value per entry; fields names the text-multi
// ones, in order. A nil form is no rows.
func formRows(t testing.TB, f *adhoc.Form, fields string) []map[string]string {
	t.Helper()
	if f == nil {
		return nil
	}
	if (f.Type != adhoc.FormResult && f.Type != adhoc.FormForm) || len(f.Reported) != 0 || len(f.Items) != 0 {
		t.Fatalf("not a single-item form: %+v", f)
	}
	if len(f.Fields) == 0 || f.Fields[0].Var != "page" || f.Fields[0].Type != adhoc.FieldFixed || len(f.Fields[0].Values) != 1 {
		t.Fatalf("no page field first: %+v", f.Fields)
	}
	var vars []string
	for _, fl := range f.Fields[1:] {
		if fl.Type != adhoc.FieldTextMulti {
			t.Fatalf("field %s is %s, want text-multi", fl.Var, fl.Type)
		}
		vars = append(vars, fl.Var)
	}
	if got := strings.Join(vars, " "); got != fields {
		t.Fatalf("fields %q, want %q", got, fields)
	}
	lines := entries(t, f.Fields[1].Values)
	rows := make([]map[string]string, len(lines))
	for i, line := range lines {
		rows[i] = map[string]string{"line": line}
	}
	for _, fl := range f.Fields[2:] {
		if len(fl.Values) != len(rows) {
			t.Fatalf("column %s has %d values for %d entries", fl.Var, len(fl.Values), len(rows))
		}
		for i, v := range fl.Values {
			rows[i][fl.Var] = v
		}
	}
	return rows
}

func TestListKeysMirror(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	resp, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeListKeys})
	if err != nil {
		t.Fatal(err)
	}
	if rows := table(t, resp.Form); len(rows) != 0 || len(resp.Notes) != 1 || resp.Status != adhoc.StatusCompleted {
		t.Fatalf("empty list: %+v", resp)
	}
	// As the command line does it.
	k, cred, err := e.svc.CreateKey(ctx, core.KeySpec{Host: host, Name: "cli key", ExpiresIn: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CreateKey(ctx, core.KeySpec{Host: "plain.example", Name: "elsewhere"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, cred); err != nil {
		t.Fatal(err)
	}
	// And one made by the command.
	made, err := e.run(t, admin, commands.NodeCreateKey, submit("name", "adhoc key"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeListKeys})
	if err != nil {
		t.Fatal(err)
	}
	rows := table(t, resp.Form)
	if len(rows) != 2 {
		t.Fatalf("%d rows: %v", len(rows), rows)
	}
	r := rows[0]
	if r["id"] != k.ID || r["name"] != "cli key" || r["uses"] != "1" || r["last-used"] == "never" ||
		r["created"] != k.CreatedAt.UTC().Format("2006-01-02T15:04:05Z") || r["expires"] != k.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z") {
		t.Fatalf("row %v for %+v", r, k)
	}
	human := func(v string) string { return strings.Replace(strings.TrimSuffix(v[:16], "Z"), "T", " ", 1) + " UTC" }
	if want := "cli key (" + k.ID + ") created " + human(r["created"]) + ", expires " + human(r["expires"]) + ", last used " + human(r["last-used"]) + ", 1 use"; r["line"] != want {
		t.Fatalf("line %q, want %q", r["line"], want)
	}
	if r["manage"] != "no" || r["max-ttl"] != "-" || r["rate"] != "-" {
		t.Fatalf("row %v", r)
	}
	if rows[1]["id"] != field(made.Form, "id") || rows[1]["name"] != "adhoc key" || rows[1]["expires"] != "never" || rows[1]["last-used"] != "never" || rows[1]["uses"] != "0" {
		t.Fatalf("row %v", rows[1])
	}
	// The key made by the command is what the command line lists.
	keys := e.keys(t, host)
	if len(keys) != 2 || keys[1].Name != "adhoc key" {
		t.Fatalf("%+v", keys)
	}
}

func TestDeleteKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	resp, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeDeleteKeys})
	if err != nil || resp.Status != adhoc.StatusCompleted || len(resp.Notes) != 1 {
		t.Fatalf("with no keys: %+v %v", resp, err)
	}
	var ids, creds []string
	for _, name := range []string{"alpha", "", "gamma"} {
		k, cred, err := e.svc.CreateKey(ctx, core.KeySpec{Host: host, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		ids, creds = append(ids, k.ID), append(creds, cred)
	}
	resp, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeDeleteKeys})
	if err != nil {
		t.Fatal(err)
	}
	fl, ok := resp.Form.Field("keys")
	if !ok || fl.Type != adhoc.FieldListMulti || !fl.Required {
		t.Fatalf("%+v", resp.Form)
	}
	// Labels are unique ("name (ID)"): Gajim submits them instead of the values.
	want := []adhoc.Option{{Label: "alpha (" + ids[0] + ")", Value: ids[0]}, {Label: ids[1], Value: ids[1]}, {Label: "gamma (" + ids[2] + ")", Value: ids[2]}}
	if !slices.Equal(fl.Options, want) {
		t.Fatalf("options %+v, want %+v", fl.Options, want)
	}
	sid := resp.SessionID
	multi := func(vals ...string) *adhoc.Form {
		return &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: "keys", Type: adhoc.FieldListMulti, Values: vals}}}
	}
	for i, tc := range []struct {
		form *adhoc.Form
		want adhoc.Condition
	}{
		0: {multi(), adhoc.CondNotAcceptable},
		1: {multi(ids[0], "AAAAAAAAAAAA"), adhoc.CondNotAcceptable},
		2: {multi(ids[0], "not a key at all"), adhoc.CondNotAcceptable},
		3: {submit(), adhoc.CondNotAcceptable},
		4: {multi("alpha"), adhoc.CondNotAcceptable}, // a name alone is no label
		5: {multi("alpha (" + ids[2] + ")"), adhoc.CondNotAcceptable},
	} {
		_, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeDeleteKeys, SessionID: sid, Action: adhoc.ActionComplete, Form: tc.form})
		if cond(err) != tc.want {
			t.Errorf("%d: %v, want %s", i, err, tc.want)
		}
		if n := len(e.keys(t, host)); n != 3 {
			t.Fatalf("%d: %d keys left after a malformed form", i, n)
		}
	}
	resp, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeDeleteKeys, SessionID: sid, Action: adhoc.ActionComplete, Form: multi(ids[0], ids[1], ids[0])})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != adhoc.StatusCompleted || len(resp.Notes) != 1 ||
		resp.Notes[0].Text != "Deleted 2 keys: alpha ("+ids[0]+"), "+ids[1]+" ("+ids[1]+")." {
		t.Fatalf("%+v", resp)
	}
	// Rejected at once; the other one still works.
	for i, c := range creds[:2] {
		if _, err := e.svc.Authenticate(ctx, c); !errors.Is(err, core.ErrForbidden) {
			t.Errorf("deleted key %d: %v, want ErrForbidden", i, err)
		}
	}
	if _, err := e.svc.Authenticate(ctx, creds[2]); err != nil {
		t.Fatal(err)
	}
	// Gajim submits the label of the option: it deletes the key too.
	resp, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeDeleteKeys})
	if err != nil {
		t.Fatal(err)
	}
	gajim, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeDeleteKeys, SessionID: resp.SessionID, Action: adhoc.ActionNext,
		Form: multi("gamma (" + ids[2] + ")")})
	if err != nil || gajim.Status != adhoc.StatusCompleted || gajim.Notes[0].Text != "Deleted 1 key: gamma ("+ids[2]+")." {
		t.Fatalf("delete by label: %+v %v", gajim, err)
	}
	if _, err := e.svc.Authenticate(ctx, creds[2]); !errors.Is(err, core.ErrForbidden) {
		t.Fatalf("the key deleted by label: %v", err)
	}
	k, _, err := e.svc.CreateKey(ctx, core.KeySpec{Host: host, Name: "delta"})
	if err != nil {
		t.Fatal(err)
	}
	ids[2] = k.ID
	// A key deleted as the command line does it disappears from the command's list.
	if err := e.svc.DeleteKey(ctx, core.Actor{Kind: core.ActorCLI}, host, ids[2]); err != nil {
		t.Fatal(err)
	}
	resp, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeDeleteKeys})
	if err != nil || resp.Status != adhoc.StatusCompleted || resp.Form != nil {
		t.Fatalf("all deleted: %+v %v", resp, err)
	}
}

func tokenOf(t testing.TB, uri string) string {
	t.Helper()
	_, rest, ok := strings.Cut(uri, "preauth=")
	if !ok {
		t.Fatalf("no token in %q", uri)
	}
	tok, _, _ := strings.Cut(rest, ";")
	return tok
}

func TestCreateAccount(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	start, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateAccount})
	if err != nil {
		t.Fatal(err)
	}
	if fl, ok := start.Form.Field("username"); !ok || fl.Required {
		t.Fatalf("%+v", start.Form)
	}
	_, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateAccount, SessionID: start.SessionID, Action: adhoc.ActionComplete, Form: submit("username", "no@such name")})
	if cond(err) != adhoc.CondNotAcceptable {
		t.Fatalf("malformed username: %v", err)
	}
	resp, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateAccount, SessionID: start.SessionID, Action: adhoc.ActionComplete, Form: submit("username", "Juliet")})
	if err != nil {
		t.Fatal(err)
	}
	f := resp.Form
	uri := field(f, "uri")
	tok := tokenOf(t, uri)
	if field(f, "FORM_TYPE") != commands.FormTypeInvitation || uri != "xmpp:juliet@example.com?register;preauth="+tok ||
		field(f, "landing-url") != "https://example.com/invite?"+tok || f.Type != adhoc.FormResult {
		t.Fatalf("%+v", f)
	}
	inv, err := e.svc.CheckInvite(ctx, "example.com", tok)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := time.Parse(time.RFC3339, field(f, "expire"))
	if err != nil || !exp.Equal(inv.ExpiresAt.Truncate(time.Second)) || inv.Username != "juliet" || inv.Kind != core.KindAccount ||
		inv.CreatedBy != "xmpp:admin@example.com" {
		t.Fatalf("%+v, expire %q %v", inv, field(f, "expire"), err)
	}
	// No username; a host without a landing page.
	resp, err = e.run(t, admin, commands.NodeCreateAccount, submit())
	if err != nil {
		t.Fatal(err)
	}
	if uri := field(resp.Form, "uri"); uri != "xmpp:example.com?register;preauth="+tokenOf(t, uri) {
		t.Fatalf("%q", uri)
	}
	start, err = e.exec(t, "plain.example", "root@plain.example/r", adhoc.Request{Node: commands.NodeCreateAccount})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = e.exec(t, "plain.example", "root@plain.example/r", adhoc.Request{Node: commands.NodeCreateAccount, SessionID: start.SessionID, Action: adhoc.ActionComplete})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := resp.Form.Field("landing-url"); ok || !strings.HasPrefix(field(resp.Form, "uri"), "xmpp:plain.example?register;preauth=") {
		t.Fatalf("%+v", resp.Form)
	}
}

// TestEveryRefusalNamesItsField (issues 22, 26): a form with several mistakes is shown
// again with each as a note of its own, naming its field by its label; nothing is made.
func TestEveryRefusalNamesItsField(t *testing.T) {
	e := newEnv(t)
	e.auth.accounts = map[string]bool{"romeo@example.com": true}
	start, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateAccount})
	if err != nil {
		t.Fatal(err)
	}
	form := submit("username", "Romeo", "ttl", "100d", "max-uses", "two", "note", "a\u202eb")
	resp, err := e.srv.Execute(context.Background(), host, adhoc.Request{Node: commands.NodeCreateAccount, Requester: admin,
		Role: adhoc.RoleAdmin, SessionID: start.SessionID, Action: adhoc.ActionComplete, Form: form})
	if err != nil || resp.Status != adhoc.StatusExecuting {
		t.Fatalf("%+v %v", resp, err)
	}
	want := []string{
		"Accounts it can make: write a whole number of accounts from 0 (any number until the invite expires) to 1000000",
		"Username: the account romeo@example.com already exists",
		"Valid for: a lifetime of 100 days is longer than the maximum of 90 days",
		"Note: the note contains the control character U+202E; line breaks, control and bidirectional formatting characters are not allowed",
	}
	// Where a response has a form, its notes are the fixed fields at its top (error-N),
	// each reason cut into lines: every client shows them, once.
	if len(resp.Notes) != 0 {
		t.Errorf("notes beside the form: %+v", resp.Notes)
	}
	var lines []string
	for _, fl := range resp.Form.Fields {
		if fl.Type == adhoc.FieldFixed && strings.HasPrefix(fl.Var, "error-") {
			lines = append(lines, strings.TrimSpace(strings.Join(fl.Values, " ")))
		}
	}
	fixed := strings.Join(lines, " ")
	at := 0
	for _, w := range want {
		i := strings.Index(fixed[at:], w)
		if i < 0 {
			t.Errorf("the form's error lines lack, in order, %q:\n%s", w, fixed)
			break
		}
		at += i + len(w)
	}
	page, err := e.svc.ListInvites(context.Background(), core.Actor{Kind: core.ActorCLI}, core.InviteQuery{Host: host})
	if err != nil || len(page.Invites) != 0 {
		t.Errorf("%d invites made by a refused form (%v)", len(page.Invites), err)
	}

	// A fixed username makes one account: more uses are refused, naming the field.
	_, err = e.run(t, admin, commands.NodeCreateAccount, submit("username", "juliet", "max-uses", "3"))
	if cond(err) != adhoc.CondNotAcceptable || !strings.HasPrefix(err.(*adhoc.Error).Text, "Accounts it can make: an invite for the fixed username juliet makes one account") {
		t.Errorf("fixed username, 3 uses: %v", err)
	}
}

func TestCreateAccountTakenName(t *testing.T) {
	e := newEnv(t)
	e.auth.accounts = map[string]bool{"romeo@example.com": true}
	start, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateAccount})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateAccount, SessionID: start.SessionID, Action: adhoc.ActionComplete, Form: submit("username", "Romeo")})
	if cond(err) != adhoc.CondNotAcceptable || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("taken username: %v", err)
	}
	// The session lives on: the admin corrects the name.
	resp, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeCreateAccount, SessionID: start.SessionID, Action: adhoc.ActionComplete, Form: submit("username", "mercutio")})
	if err != nil || !strings.HasPrefix(field(resp.Form, "uri"), "xmpp:mercutio@example.com?register;preauth=") {
		t.Fatalf("corrected name: %v %+v", err, resp.Form)
	}
}

func TestInvite(t *testing.T) {
	for i, tc := range []struct {
		opts    commands.Options
		who     string
		inviter string
		ibr     bool
	}{
		// By default a user's contact invite cannot register an account (issue 15)…
		0: {commands.Options{}, bob, "bob", false},
		// …an administrator's can…
		1: {commands.Options{}, admin, "admin", true},
		// …and so can a user's when the operator allows it.
		2: {commands.Options{AllowUserInvites: true}, bob, "bob", true},
	} {
		e := newEnvWith(t, tc.opts)
		resp, err := e.exec(t, host, tc.who, adhoc.Request{Node: commands.NodeInvite})
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		uri := field(resp.Form, "uri")
		tok := tokenOf(t, uri)
		want := "xmpp:" + tc.inviter + "@example.com?roster;preauth=" + tok
		if tc.ibr {
			want += ";ibr=y"
		}
		if resp.Status != adhoc.StatusCompleted || uri != want ||
			field(resp.Form, "landing-url") == "" || field(resp.Form, "expire") == "" {
			t.Fatalf("%d: %+v, want URI %s", i, resp, want)
		}
		if !tc.ibr && (len(resp.Notes) != 0 || !strings.Contains(fixedText(resp.Form, "note-"), "cannot create an account")) {
			t.Errorf("%d: notes %+v, form %+v, want the form to say the invite cannot make an account", i, resp.Notes, resp.Form)
		}
		inv, err := e.svc.CheckInvite(context.Background(), "example.com", tok)
		if err != nil || inv.Kind != core.KindContact || inv.Inviter != tc.inviter || inv.CanRegister() != tc.ibr ||
			inv.CreatedBy != "xmpp:"+tc.inviter+"@example.com" {
			t.Fatalf("%d: %+v %v", i, inv, err)
		}
		// Registration follows the URI: refused without ;ibr=y.
		_, err = e.svc.Redeem(context.Background(), core.Redemption{Host: host, Token: tok, Username: "newcomer"})
		if tc.ibr != (err == nil) {
			t.Errorf("%d: registering with the invite: %v, want success %v", i, err, tc.ibr)
		}
	}
}

// TestUserQuota (issue 15): a user cannot mint unlimited invites, registration
// invites included: past the quota (per period, and pending at once) the command is
// refused with resource-constraint and nothing is stored; revoking one frees a place;
// administrators have no quota.
func TestUserQuota(t *testing.T) {
	quota := core.Quota{Invites: 4, Period: time.Hour, Outstanding: 2}
	e := newEnvWith(t, commands.Options{AllowUserInvites: true, UserQuota: quota})
	ctx := context.Background()
	count := func(by string) int {
		t.Helper()
		page, err := e.svc.ListInvites(ctx, core.Actor{Kind: core.ActorCLI, Manage: true}, core.InviteQuery{Host: host, CreatedBy: by, Limit: core.MaxListLimit})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Invites)
	}
	var made []string
	for i := range 2 {
		resp, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeInvite})
		if err != nil || !strings.HasSuffix(field(resp.Form, "uri"), ";ibr=y") {
			t.Fatalf("invite %d: %+v %v", i, resp, err)
		}
		made = append(made, core.TokenID(tokenOf(t, field(resp.Form, "uri"))))
	}
	for i := range 5 {
		_, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeInvite})
		if cond(err) != adhoc.CondResourceConstraint || !strings.Contains(err.Error(), "2 waiting to be used at once") {
			t.Fatalf("invite past the pending bound, %d: %v", i, err)
		}
	}
	if n := count("xmpp:bob@example.com"); n != 2 {
		t.Fatalf("%d invites stored, want 2", n)
	}
	// Revoking one through the command frees a place…
	start, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeRevokeInvites})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeRevokeInvites, SessionID: start.SessionID,
		Action: adhoc.ActionComplete, Form: submit("invites", made[0])}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeInvite}); err != nil {
		t.Fatalf("after a revocation: %v", err)
	}
	// …and redeeming one does too, until the per-period bound (4 an hour) is reached.
	page, err := e.svc.ListInvites(ctx, core.Actor{Kind: core.ActorJID, ID: "bob@example.com"}, core.InviteQuery{Host: host, Status: core.StatusPending})
	if err != nil || len(page.Invites) != 2 {
		t.Fatalf("pending: %+v %v", page, err)
	}
	if _, err := e.svc.RevokeInvite(ctx, core.Actor{Kind: core.ActorJID, ID: "bob@example.com"}, host, page.Invites[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.exec(t, host, bob, adhoc.Request{Node: commands.NodeInvite}); err != nil {
		t.Fatalf("the fourth invite of the hour: %v", err)
	}
	if _, err := e.svc.RevokeInvite(ctx, core.Actor{Kind: core.ActorJID, ID: "bob@example.com"}, host, page.Invites[1].ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.exec(t, host, bob, adhoc.Request{Node: commands.NodeInvite})
	if cond(err) != adhoc.CondResourceConstraint || !strings.Contains(err.Error(), "4 every 1 hour") {
		t.Fatalf("a fifth invite within the hour: %v", err)
	}
	if n := count("xmpp:bob@example.com"); n != 4 {
		t.Fatalf("%d invites stored, want 4", n)
	}
	// An administrator has no quota.
	for i := range 6 {
		if _, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeInvite}); err != nil {
			t.Fatalf("admin invite %d: %v", i, err)
		}
	}
}

func TestNew(t *testing.T) {
	e := newEnv(t)
	if _, err := commands.New(nil, e.auth, commands.Options{}); err == nil {
		t.Error("no error without a service")
	}
	if _, err := commands.New(e.svc, nil, commands.Options{}); err != nil {
		t.Errorf("without an account checker: %v", err)
	}
}

// pair connects requester to a server running the commands, over a real stream.
func pair(t testing.TB, e *env, requester string) *adhoctest.Pair {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := adhoctest.New(ctx, e.srv, jid.MustParse(requester), adhoc.HandlerOptions{
		Role: func(_ context.Context, j jid.JID) (adhoc.Role, error) {
			return e.auth.role(j.Domainpart(), j.String()), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("closing: %v", err)
		}
	})
	return p
}

func TestOverStream(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	a := pair(t, e, admin)
	cmds, err := a.Commands(ctx)
	if err != nil || len(cmds) != 12 {
		t.Fatalf("admin sees %+v %v", cmds, err)
	}
	resp, err := a.Execute(ctx, adhoc.Request{Node: commands.NodeCreateKey, Action: adhoc.ActionExecute})
	if err != nil {
		t.Fatal(err)
	}
	// A malformed form: the form again with what was sent and the reason at the top
	// of the form (and not in a note as well), nothing stored, the session still open.
	again, err := a.Execute(ctx, adhoc.Request{Node: commands.NodeCreateKey, SessionID: resp.SessionID, Action: adhoc.ActionComplete, Form: submit("name", "x", "rate", "lots")})
	const reason = `Rate limit: "lots" is not a rate: write N/PERIOD, such as 10/m, 100/1h or 1000/day`
	if err != nil || again.Status != adhoc.StatusExecuting || again.SessionID != resp.SessionID || len(again.Notes) != 0 ||
		fixedText(again.Form, "error-") != reason {
		t.Fatalf("%+v %v, want the form again with the reason about the rate", again, err)
	}
	var fixed []string
	for _, fl := range again.Form.Fields {
		if fl.Type == adhoc.FieldFixed {
			for _, v := range fl.Values {
				fixed = append(fixed, strings.TrimRight(v, " ")) // padded for Gajim
			}
		}
	}
	if strings.Join(fixed, " ") != reason || again.Form.Value("name") != "x" || again.Form.Value("rate") != "lots" || again.Form.Title != "Create invite API key" {
		t.Fatalf("form shown again: %+v", again.Form)
	}
	if n := len(e.keys(t, host)); n != 0 {
		t.Fatalf("%d keys after a malformed form", n)
	}
	done, err := a.Execute(ctx, adhoc.Request{Node: commands.NodeCreateKey, SessionID: resp.SessionID, Action: adhoc.ActionComplete, Form: submit("name", "over the wire", "rate", "5/m")})
	if err != nil {
		t.Fatal(err)
	}
	k, err := e.svc.Authenticate(ctx, field(done.Form, "key"))
	if err != nil || k.Name != "over the wire" {
		t.Fatalf("%+v %v", k, err)
	}
	list, err := a.Execute(ctx, adhoc.Request{Node: commands.NodeListKeys})
	if err != nil {
		t.Fatal(err)
	}
	if rows := table(t, list.Form); len(rows) != 1 || rows[0]["id"] != k.ID || rows[0]["uses"] != "1" {
		t.Fatalf("%v", rows)
	}
	del, err := a.Execute(ctx, adhoc.Request{Node: commands.NodeDeleteKeys})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = a.Execute(ctx, adhoc.Request{Node: commands.NodeDeleteKeys, SessionID: del.SessionID, Action: adhoc.ActionCancel}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, field(done.Form, "key")); err != nil {
		t.Fatalf("canceled delete deleted: %v", err)
	}
	del, err = a.Execute(ctx, adhoc.Request{Node: commands.NodeDeleteKeys})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = a.Execute(ctx, adhoc.Request{Node: commands.NodeDeleteKeys, SessionID: del.SessionID, Action: adhoc.ActionComplete,
		Form: &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: "keys", Values: []string{k.ID}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, field(done.Form, "key")); !errors.Is(err, core.ErrForbidden) {
		t.Fatalf("deleted key: %v", err)
	}

	// A local user sees only the contact invite and the lists of its own invites, and is
	// refused the rest.
	b := pair(t, e, bob)
	cmds, err = b.Commands(ctx)
	if err != nil || len(cmds) != 4 || cmds[0].Node != commands.NodeInvite || cmds[1].Node != commands.NodeListInvites ||
		cmds[2].Node != commands.NodeChangeInvite || cmds[3].Node != commands.NodeRevokeInvites {
		t.Fatalf("bob sees %+v %v", cmds, err)
	}
	for _, node := range []string{commands.NodeCreateKey, commands.NodeListKeys, commands.NodeDeleteKeys, commands.NodeCreateAccount, commands.NodeResetInvite} {
		_, err := b.Execute(ctx, adhoc.Request{Node: node})
		var ie *adhoctest.IQError
		if !errors.As(err, &ie) || ie.Type != "auth" || ie.Condition != "forbidden" {
			t.Errorf("%s: %v, want auth/forbidden", node, err)
		}
	}
	inv, err := b.Execute(ctx, adhoc.Request{Node: commands.NodeInvite})
	if err != nil || !strings.Contains(field(inv.Form, "uri"), "?roster;preauth=") {
		t.Fatalf("%+v %v", inv, err)
	}
}

// BenchmarkCreateKeyRoundTrip measures execute → completed of "Create invite API key"
// through the Handler on an in-memory stream, over the SQLite store.
func BenchmarkCreateKeyRoundTrip(b *testing.B) {
	e := newEnv(b)
	p := pair(b, e, admin)
	ctx := context.Background()
	form := submit("name", "bench", "expires", "1h")
	b.ResetTimer()
	for b.Loop() {
		resp, err := p.Execute(ctx, adhoc.Request{Node: commands.NodeCreateKey})
		if err != nil {
			b.Fatal(err)
		}
		resp, err = p.Execute(ctx, adhoc.Request{Node: commands.NodeCreateKey, SessionID: resp.SessionID, Action: adhoc.ActionComplete, Form: form})
		if err != nil || resp.Status != adhoc.StatusCompleted {
			b.Fatal(resp, err)
		}
	}
}

func encodeTB(t testing.TB, r xml.TokenReader) string {
	t.Helper()
	var b strings.Builder
	enc := xml.NewEncoder(&b)
	if _, err := xmlstream.Copy(enc, r); err != nil {
		t.Fatal(err)
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestKeyListSaysWhatKeysMay: the key list shows what a key may do besides its
// dates (manage every invite, the longest invite lifetime, the rate), in its lines
// for people and in columns; the new key's result writes the lifetime for people.
func TestKeyListSaysWhatKeysMay(t *testing.T) {
	e := newEnv(t)
	made, err := e.run(t, admin, commands.NodeCreateKey, submit("name", "manager", "max-ttl", "30d", "rate", "10/h", "manage", "true"))
	if err != nil || field(made.Form, "max-ttl") != "30 days" || field(made.Form, "manage") != "every invite of "+host {
		t.Fatalf("new key: %+v %v", made, err)
	}
	resp, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeListKeys})
	if err != nil {
		t.Fatal(err)
	}
	rows := table(t, resp.Form)
	if len(rows) != 1 || rows[0]["manage"] != "yes" || rows[0]["max-ttl"] != "30 days" || rows[0]["rate"] != "10/1h" ||
		!strings.HasSuffix(rows[0]["line"], ", 0 uses, manages every invite, invites live at most 30 days, rate limit 10/1h") {
		t.Fatalf("rows %v", rows)
	}
	// An empty cell is "-": profanity drops empty values, and the column would show
	// the next key's rate as this one's.
	if _, err := e.run(t, admin, commands.NodeCreateKey, submit("name", "plain")); err != nil {
		t.Fatal(err)
	}
	resp, err = e.exec(t, host, admin, adhoc.Request{Node: commands.NodeListKeys})
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range resp.Form.Fields[1:] {
		if slices.Contains(fl.Values, "") {
			t.Errorf("column %s has an empty value: %q", fl.Var, fl.Values)
		}
	}
	if rows = table(t, resp.Form); len(rows) != 2 || rows[1]["rate"] != "-" || rows[1]["max-ttl"] != "-" || rows[0]["rate"] != "10/1h" {
		t.Fatalf("rows %v", rows)
	}
}

// TestChoicesDescBounded: the description naming every choice stays within the
// decoders' bound on a value, saying how many it leaves out.
func TestChoicesDescBounded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 60 {
		if _, _, err := e.svc.CreateKey(ctx, core.KeySpec{Host: host, Name: fmt.Sprintf("a key with a rather long name, number %02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	start, err := e.exec(t, host, admin, adhoc.Request{Node: commands.NodeDeleteKeys})
	if err != nil {
		t.Fatal(err)
	}
	fl, _ := start.Form.Field("keys")
	if len(fl.Desc) > 3000 || !strings.HasSuffix(fl.Desc, " more.") || !strings.Contains(fl.Desc, "number 00 (") {
		t.Fatalf("description of %d bytes: %q", len(fl.Desc), fl.Desc)
	}
	if err := start.Form.Validate(adhoc.Limits{}); err != nil {
		t.Fatal(err)
	}
}

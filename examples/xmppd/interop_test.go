package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/httpapi"
)

// The interop tests drive xmppd (with the plugin) with slixmpp, a client library this
// project did not write: Debian's python3-slixmpp, which
// scripts/install-test-deps.sh installs. The scenarios are in testdata/interop.py.

// interopTimeout bounds one scenario (the script bounds itself to 70 s).
const interopTimeout = 2 * time.Minute

// slixmppPython returns a Python that can import slixmpp, or fails the test saying
// how to get one. INVITES_TEST_PYTHON names one; otherwise Debian's /usr/bin/python3
// (where python3-slixmpp installs), then python3 on PATH.
func slixmppPython(t *testing.T) string {
	t.Helper()
	var candidates []string
	if p := os.Getenv("INVITES_TEST_PYTHON"); p != "" {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "/usr/bin/python3", "python3")
	var tried []string
	for _, c := range candidates {
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		out, err := exec.CommandContext(ctx, p, "-c", "import slixmpp").CombinedOutput()
		cancel()
		if err == nil {
			return p
		}
		tried = append(tried, fmt.Sprintf("%s: %v %s", p, err, bytes.TrimSpace(out)))
	}
	t.Fatalf("the interop tests need Debian's python3-slixmpp, which is not installed.\n"+
		"Install it with: sudo bash scripts/install-test-deps.sh (or apt-get install python3-slixmpp),\n"+
		"or name a Python that has slixmpp in INVITES_TEST_PYTHON.\nTried: %s", strings.Join(tried, "; "))
	return ""
}

// interop runs one scenario of testdata/interop.py against the c2s address and
// decodes what it prints into out.
func interop(t *testing.T, python, c2s string, out any, scenario string, args ...string) {
	t.Helper()
	_, port, err := net.SplitHostPort(c2s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), interopTimeout)
	defer cancel()
	script, err := filepath.Abs(filepath.Join("testdata", "interop.py"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, python, append([]string{script, scenario, port}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var failure struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(stdout.Bytes(), &failure)
	if runErr != nil || failure.Error != "" {
		var ee *exec.ExitError
		if errors.As(runErr, &ee) && ee.ExitCode() == 2 {
			t.Fatalf("interop.py %s: usage error:\n%s", scenario, stderr.String())
		}
		t.Fatalf("interop.py %s: %v %s\nstderr:\n%s", scenario, runErr, failure.Error, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("interop.py %s printed %q: %v", scenario, stdout.String(), err)
	}
}

// commandRun is what interop.py reports of one command run.
type commandRun struct {
	Node        string            `json:"node"`
	Mode        string            `json:"mode"`
	Stages      int               `json:"stages"`
	Actions     [][]string        `json:"actions"`
	Sent        []map[string]any  `json:"sent"`
	Status      string            `json:"status"`
	Notes       [][2]string       `json:"notes"`
	Result      map[string]any    `json:"result"`
	ResultTypes map[string]string `json:"result_types"`
	Reported    int               `json:"reported"`
	Pages       []struct {
		Page string   `json:"page"`
		IDs  []string `json:"ids"`
	} `json:"pages"`
}

// text returns a result field as text (text-multi values are joined by newlines).
func (r commandRun) text(v string) string {
	switch x := r.Result[v].(type) {
	case string:
		return x
	case []any:
		var s []string
		for _, e := range x {
			s = append(s, fmt.Sprint(e))
		}
		return strings.Join(s, "\n")
	}
	return ""
}

// TestInteropSlixmpp runs the interop scenarios against one server.
func TestInteropSlixmpp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries and Python")
	}
	python := slixmppPython(t)
	srv, cli := startAdminServer(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	t.Run("commands", func(t *testing.T) {
		var out struct {
			Commands map[string]string `json:"commands"`
			Runs     []commandRun      `json:"runs"`
		}
		interop(t, python, srv.c2s, &out, "commands", "admin", "admin secret")
		for _, n := range []string{nodeCreateKey, nodeListKeys, nodeDeleteKeys, nodeCreateAccount, nodeInvite,
			nodeListInvites, nodeChangeInvite, nodeRevokeInvites, nodeResetInvite} {
			if out.Commands[n] == "" {
				t.Errorf("%s not listed: %v", n, out.Commands)
			}
		}
		if len(out.Runs) != 2*len(out.Commands) {
			t.Fatalf("%d runs for %d commands", len(out.Runs), len(out.Commands))
		}
		for _, r := range out.Runs {
			what := r.Mode + " " + r.Node
			if r.Status != "completed" {
				t.Errorf("%s: status %q, notes %v", what, r.Status, r.Notes)
				continue
			}
			for i, acts := range r.Actions {
				// The last stage offers next and complete, as Prosody does.
				if i == len(r.Actions)-1 && (!contains(acts, "next") || !contains(acts, "complete")) {
					t.Errorf("%s: the last stage offers %v", what, acts)
				}
			}
			switch r.Node {
			case nodeDeleteUser, nodeDisableUser, nodeReenableUser:
				// The server's own XEP-0133 commands, on an account that does not exist.
				if r.Stages != 1 || len(r.Notes) != 1 || r.Notes[0][1] != "nobody@localhost: no such account." {
					t.Errorf("%s: %d stages, notes %v", what, r.Stages, r.Notes)
				}
			case nodeCreateKey:
				if !strings.Contains(r.text("key"), "/") || r.text("name") != "interop-"+r.Mode {
					t.Errorf("%s: result %v", what, r.Result)
				}
			case nodeDeleteKeys:
				if len(r.Notes) == 0 || !strings.HasPrefix(r.Notes[0][1], "Deleted 1 key: interop-"+r.Mode+" (") {
					t.Errorf("%s: notes %v", what, r.Notes)
				}
			case nodeListKeys:
				if r.Reported != 0 || r.ResultTypes["keys"] != "text-multi" || !strings.Contains(r.text("name"), "interop-"+r.Mode) {
					t.Errorf("%s: result %v %v, %d table items", what, r.Result, r.ResultTypes, r.Reported)
				}
			case nodeCreateAccount:
				if !strings.HasPrefix(r.text("uri"), "xmpp:localhost?register;preauth=") {
					t.Errorf("%s: result %v", what, r.Result)
				}
			case nodeInvite:
				if !strings.HasPrefix(r.text("uri"), "xmpp:admin@localhost?roster;preauth=") {
					t.Errorf("%s: result %v", what, r.Result)
				}
			case nodeListInvites:
				// A single-item form: the invite made by create-account in this mode is
				// listed with its note.
				if r.Reported != 0 || r.ResultTypes["invites"] != "text-multi" || !strings.Contains(r.text("note"), "interop-"+r.Mode) {
					t.Errorf("%s: result %v %v, %d table items", what, r.Result, r.ResultTypes, r.Reported)
				}
			case nodeChangeInvite:
				// Two stages, the values submitted as shown: nothing changes.
				if r.Stages != 2 || len(r.Notes) == 0 || r.Notes[0][1] != "Nothing changed." {
					t.Errorf("%s: %d stages, notes %v", what, r.Stages, r.Notes)
				}
			case nodeRevokeInvites:
				if len(r.Notes) == 0 || !strings.HasPrefix(r.Notes[0][1], "Revoked 1 invite: ") || !strings.Contains(r.Notes[0][1], " (interop-"+r.Mode+" — account invite, expires ") {
					t.Errorf("%s: notes %v", what, r.Notes)
				}
			case nodeResetInvite:
				if !strings.HasPrefix(r.text("uri"), "xmpp:admin@localhost?register;preauth=") {
					t.Errorf("%s: result %v", what, r.Result)
				}
			}
		}
		keys, err := cli.keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if strings.HasPrefix(k.name, "interop-") {
				t.Errorf("key %s (%s) survived its keys#delete run", k.id, k.name)
			}
		}
	})

	t.Run("key list from the single-item form", func(t *testing.T) {
		var made []string
		for _, name := range []string{"list one", "list two"} {
			key, err := cli.createKey(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			made = append(made, keyID(key))
		}
		var r commandRun
		interop(t, python, srv.c2s, &r, "keys", "admin", "admin secret")
		keys, err := cli.keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids := strings.Split(r.text("id"), "\n")
		names := strings.Split(r.text("name"), "\n")
		lines := entries(t, strings.Split(r.text("keys"), "\n"))
		if r.Reported != 0 || len(ids) != len(keys) || len(names) != len(ids) || len(lines) != len(ids) {
			t.Fatalf("list %v, %d table items; the command line lists %v", r.Result, r.Reported, keys)
		}
		for i, id := range ids {
			if keys[id].name != names[i] || !strings.HasPrefix(lines[i], names[i]+" ("+id+") created ") {
				t.Errorf("key %s: name %q, lines %q; the command line says %+v", id, names[i], lines[i], keys[id])
			}
		}
		for _, id := range made {
			if !contains(ids, id) {
				t.Errorf("key %s is not listed: %v", id, ids)
			}
		}
	})

	t.Run("delete by label", func(t *testing.T) {
		key, err := cli.createKey(ctx, "labelled")
		if err != nil {
			t.Fatal(err)
		}
		var r commandRun
		interop(t, python, srv.c2s, &r, "delete-label", "admin", "admin secret", "labelled (")
		label := "labelled (" + keyID(key) + ")"
		if len(r.Sent) != 1 || fmt.Sprint(r.Sent[0]["keys"]) != fmt.Sprint([]any{label}) {
			t.Fatalf("submitted %v, want the label %q", r.Sent, label)
		}
		if r.Status != "completed" || len(r.Notes) == 0 || r.Notes[0][1] != "Deleted 1 key: "+label+"." {
			t.Fatalf("delete by label: %s %v", r.Status, r.Notes)
		}
		if keys, err := cli.keys(ctx); err != nil || keys[keyID(key)] != (cliKey{}) {
			t.Fatalf("the key is still there: %v %v", keys, err)
		}
	})

	t.Run("invites: list, revoke by label", func(t *testing.T) {
		var out struct {
			Create  commandRun     `json:"create"`
			List    commandRun     `json:"list"`
			Revoke  commandRun     `json:"revoke"`
			Revoked map[string]any `json:"revoked"`
		}
		interop(t, python, srv.c2s, &out, "invites", "admin", "admin secret", "interop-label — ")
		token := preauthToken(out.Create.text("uri"))
		if out.Create.Status != "completed" || token == "" {
			t.Fatalf("create-account: %+v", out.Create)
		}
		id := token[:12]
		ids := strings.Split(out.List.text("id"), "\n")
		lines := entries(t, strings.Split(out.List.text("invites"), "\n"))
		notes := strings.Split(out.List.text("note"), "\n")
		if out.List.Reported != 0 || len(ids) != len(lines) || len(notes) != len(ids) || !contains(ids, id) {
			t.Fatalf("list: %v, %d table items", out.List.Result, out.List.Reported)
		}
		for i := range ids {
			if ids[i] == id && (notes[i] != "interop-label" || !strings.HasPrefix(lines[i], id+": account invite pending, 0 of 1 uses") ||
				!strings.Contains(lines[i], "note: interop-label")) {
				t.Errorf("the new invite's row: note %q, lines %q", notes[i], lines[i])
			}
		}
		sent := fmt.Sprint(out.Revoke.Sent)
		if out.Revoke.Status != "completed" || !strings.Contains(sent, id+": interop-label — account invite, expires ") ||
			len(out.Revoke.Notes) == 0 || !strings.HasPrefix(out.Revoke.Notes[0][1], "Revoked 1 invite: "+id+" (interop-label — account invite, expires ") {
			t.Fatalf("revoke by label: sent %s, %s %v", sent, out.Revoke.Status, out.Revoke.Notes)
		}
		if revoked := fmt.Sprint(out.Revoked["id"]); !strings.Contains(revoked, id) {
			t.Errorf("revoked list (status submitted as the label \"Revoked\"): %v", out.Revoked)
		}
		if _, err := registerWithToken(ctx, srv.c2s, token, "labelled", "pw"); err == nil {
			t.Errorf("the invite revoked by label still registers")
		}
	})

	t.Run("a refused value, corrected in the same session, as poezio does", func(t *testing.T) {
		type field [3]any // var, type, value
		var out struct {
			Steps []struct {
				Status  string      `json:"status"`
				Notes   [][2]string `json:"notes"`
				Fields  []field     `json:"fields"`
				Error   string      `json:"error"`
				Text    string      `json:"text"`
				Timeout bool        `json:"timeout"`
			} `json:"steps"`
		}
		interop(t, python, srv.c2s, &out, "correct", "admin", "admin secret")
		if len(out.Steps) != 5 {
			t.Fatalf("steps %+v", out.Steps)
		}
		// The bad rate: the form again, the reason in fixed fields at its top (each a var
		// of its own, so that slixmpp keeps them all) and in no note, what was sent.
		const reason = `Rate limit: "lots" is not a rate: write N/PERIOD, such as 10/m, 100/1h or 1000/day`
		refused := out.Steps[1]
		var fixed []string
		values := map[string]any{}
		for _, f := range refused.Fields {
			if f[1] == "fixed" {
				fixed = append(fixed, strings.TrimRight(fmt.Sprint(f[2]), " ")) // padded for Gajim
			}
			values[fmt.Sprint(f[0])] = f[2]
		}
		if refused.Status != "executing" || len(refused.Notes) != 0 ||
			strings.Join(fixed, " ") != reason || values["name"] != "interop-correct" || values["rate"] != "lots" {
			t.Errorf("the refused value: %+v", refused)
		}
		done := out.Steps[2]
		if done.Status != "completed" || len(done.Fields) == 0 || done.Fields[0][1] != "fixed" ||
			!strings.HasPrefix(fmt.Sprint(done.Fields[0][2]), "Copy the key now") {
			t.Errorf("the corrected form: %+v", done)
		}
		// An IQ error within a session reaches slixmpp's handler of that session.
		if late := out.Steps[4]; late.Error != "bad-request" || late.Timeout {
			t.Errorf("the error after the session ended: %+v", late)
		}
	})

	// Issue 21 LOW 7: a long list pages; slixmpp (so poezio) pages through it with
	// next, sending each page's fields back, and sees every key once.
	t.Run("paging through a long list, as poezio does", func(t *testing.T) {
		c, err := rawCommandLogin(ctx, srv.c2s, "admin", "admin secret", "pager")
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		for i := range 80 {
			first, _, err := c.run(adhoc.Request{Node: nodeCreateKey, Action: adhoc.ActionExecute})
			if err == nil {
				_, _, err = c.run(adhoc.Request{Node: nodeCreateKey, SessionID: first.SessionID, Action: adhoc.ActionComplete,
					Form: submit(map[string][]string{"name": {fmt.Sprintf("interop-page %02d", i)}})})
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		var r commandRun
		interop(t, python, srv.c2s, &r, "pages", "admin", "admin secret")
		keys, err := cli.keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != "completed" || len(r.Pages) < 2 || r.Stages != len(r.Pages)-1 {
			t.Fatalf("%s after %d stages, pages %+v", r.Status, r.Stages, r.Pages)
		}
		seen, total := 0, len(keys)
		for i, p := range r.Pages {
			if want := fmt.Sprintf("Keys %d–%d of %d", seen+1, seen+len(p.IDs), total); !strings.HasPrefix(p.Page, want) {
				t.Errorf("page %d says %q, want %q", i+1, p.Page, want)
			}
			for _, id := range p.IDs {
				if _, ok := keys[id]; !ok {
					t.Fatalf("page %d lists %s, unknown or twice", i+1, id)
				}
				delete(keys, id)
				seen++
			}
		}
		if len(keys) != 0 {
			t.Fatalf("%d keys not listed", len(keys))
		}
	})

	t.Run("whitespace between every element", func(t *testing.T) {
		var out struct {
			JID      string            `json:"jid"`
			Commands map[string]string `json:"commands"`
			Run      commandRun        `json:"run"`
		}
		interop(t, python, srv.c2s, &out, "whitespace", "admin", "admin secret")
		if !strings.HasPrefix(out.JID, "admin@localhost/") || len(out.Commands) == 0 || out.Run.Status != "completed" {
			t.Fatalf("whitespace client: %+v", out)
		}
	})

	t.Run("contact invite, registration, rosters, message", func(t *testing.T) {
		type item struct {
			Subscription string `json:"subscription"`
			Ask          string `json:"ask"`
		}
		var out struct {
			URI           string          `json:"uri"`
			InviteeRoster map[string]item `json:"invitee_roster"`
			InviterPush   map[string]item `json:"inviter_push"`
			InviterRoster map[string]item `json:"inviter_roster"`
			Message       struct {
				From string `json:"from"`
				Body string `json:"body"`
			} `json:"message"`
			Notice struct {
				From string `json:"from"`
				Body string `json:"body"`
			} `json:"notice"`
		}
		interop(t, python, srv.c2s, &out, "invite", "admin", "admin secret", "invitee", pw("invitee"))
		both := item{Subscription: "both"}
		if out.InviteeRoster["admin@localhost"] != both {
			t.Errorf("the invitee's roster: %v", out.InviteeRoster)
		}
		if out.InviterRoster["invitee@localhost"] != both || out.InviterPush["invitee@localhost"] != both {
			t.Errorf("the inviter's roster %v, push %v", out.InviterRoster, out.InviterPush)
		}
		if !strings.HasPrefix(out.Message.From, "invitee@localhost/") || out.Message.Body != "hello from the invitee" {
			t.Errorf("message %+v", out.Message)
		}
		// The inviter is told by the server that the invite was used (issue 25).
		if out.Notice.From != "localhost" || out.Notice.Body != "invitee@localhost joined localhost with your invitation." {
			t.Errorf("the inviter's notice %+v", out.Notice)
		}
	})

	if strings.Contains(srv.stderr.String(), "stream error") {
		t.Errorf("a client stream ended with a stream error:\n%s", srv.stderr.String())
	}
}

// entries reads a list's field for people: an entry is a line and the lines
// indented by two spaces after it, none longer than 50 characters (poezio shows no
// wider value); each entry comes back on one line, its lines joined by spaces.
func entries(t *testing.T, lines []string) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		if n := len([]rune(l)); n > 50 {
			t.Errorf("line %q is %d characters long", l, n)
		}
		if rest, ok := strings.CutPrefix(l, "  "); ok && len(out) > 0 {
			out[len(out)-1] += " " + rest
			continue
		}
		out = append(out, l)
	}
	return out
}

func contains(s []string, v string) bool {
	for _, e := range s {
		if e == v {
			return true
		}
	}
	return false
}

// TestInteropFormInvitation (issue 22): slixmpp registers through the XEP-0077 data
// form's invitation field, with no pre-auth IQ, as a client that shows the form and
// takes no invite links does, with each of the three forms of an invite: its page
// URL, its xmpp: URI and its bare token (for an invite that fixes the username, the
// form's username left empty). Each invite is used up and each account logs in; an
// invitation that is none is refused, saying what the field takes.
func TestInteropFormInvitation(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries and Python")
	}
	python := slixmppPython(t)
	s := startPageSite(t, binaries(t), pageSiteOptions{})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	pageURL, tok1 := s.invite(t, ctx, httpapi.CreateParams{})
	_, tok2 := s.invite(t, ctx, httpapi.CreateParams{})
	_, tok3 := s.invite(t, ctx, httpapi.CreateParams{Username: "carol"})
	if !strings.HasPrefix(pageURL, s.base()+"/invite?") {
		t.Fatalf("the invite's Location is not its page: %q", pageURL)
	}
	for _, tc := range []struct {
		what, invitation, user, login, token string
	}{
		{"page URL", pageURL, "pageuser", "pageuser", tok1},
		{"xmpp: URI", "xmpp:localhost?register;preauth=" + tok2, "uriuser", "uriuser", tok2},
		{"bare token, fixed username", tok3, "-", "carol", tok3},
	} {
		t.Run(tc.what, func(t *testing.T) {
			var out struct {
				Fields []struct {
					Var, Type, Label, Desc string
					Required               bool
				} `json:"fields"`
				Bad struct{ Condition, Text string } `json:"bad"`
				JID string                           `json:"jid"`
			}
			interop(t, python, s.srv.c2s, &out, "form-invitation", tc.user, pw(tc.login), tc.invitation)
			var invitation bool
			for _, f := range out.Fields {
				if f.Var == "invitation" {
					invitation = f.Type == "text-single" && f.Label == "Invitation" && !f.Required && strings.Contains(f.Desc, "invitation link")
				}
			}
			if !invitation {
				t.Errorf("the form's invitation field: %+v", out.Fields)
			}
			if out.Bad.Condition != "not-acceptable" || !strings.HasPrefix(out.Bad.Text, "the invitation field takes the invitation's link") {
				t.Errorf("an invitation that is none: %+v", out.Bad)
			}
			if tc.user != "-" && !strings.HasPrefix(out.JID, tc.login+"@localhost/") {
				t.Errorf("logged in as %q", out.JID)
			}
			sess, err := testclient.Login(ctx, s.srv.c2s, tc.login, pw(tc.login), sasl.ScramSha256)
			if err != nil {
				t.Fatalf("%s cannot log in: %v", tc.login, err)
			}
			_ = sess.Close()
			if r := s.get(t, ctx, http.MethodGet, "/invite?"+tc.token); r.code != http.StatusNotFound {
				t.Errorf("the invite's page after it was used: %d", r.code)
			}
		})
	}
}

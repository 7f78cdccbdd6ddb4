package main_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/adhoc/adhoctest"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/httpapi"
)

// landingPage is the plugin's landing page template in TestAdhocCommands, so that the
// XEP-0401 result form carries a landing-url.
const landingPage = "https://invite.example/{host}/{token}"

// The XEP-0050 §4.4 errors the tests expect.
var (
	errForbidden    = adhoctest.IQError{Type: stanza.Auth, Condition: stanza.Forbidden}
	errBadSessionID = adhoctest.IQError{Type: stanza.Modify, Condition: stanza.BadRequest, Command: "bad-sessionid"}
	errBadPayload   = adhoctest.IQError{Type: stanza.Modify, Condition: stanza.BadRequest, Command: "bad-payload"}
)

// TestAdhocCommands drives every ad-hoc command of the plugin through xmppd, the way an
// XMPP client does: mellium's client over STARTTLS and SCRAM-SHA-256 on loopback,
// xmppd routing the bound JID to the plugin process, the plugin on its SQLite store.
// What the commands change is checked where operators and programs see it: the HTTP
// API, XMPP registration, and the plugin's command line on the same data directory.
func TestAdhocCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := binaries(t)
	work := t.TempDir()
	data := filepath.Join(work, "data")
	addUser(t, bin, data, "admin@localhost", "admin secret")
	addUser(t, bin, data, "alice@localhost", "alice secret")
	pluginConfig := writeFile(t, work, "invites.toml", fmt.Sprintf("landing_page = %q\n", landingPage))
	// An INVITES_STORE of the developer's would move the store away from the data
	// directory under both the server and the command line: the test names its own.
	env := []string{"INVITES_STORE="}
	srv := startServerEnv(t, bin, work, env, "-data", data, "-admin", "admin@localhost", "-plugin-config", pluginConfig)
	cli := pluginCLI{bin: bin, env: env, args: []string{"-data", data, "-config", pluginConfig}}

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	adminSess, err := testclient.Login(ctx, srv.c2s, "admin", "admin secret", sasl.ScramSha256)
	if err != nil {
		t.Fatalf("admin login: %v", err)
	}
	defer adminSess.Close()
	aliceSess, err := testclient.Login(ctx, srv.c2s, "alice", "alice secret", sasl.ScramSha256)
	if err != nil {
		t.Fatalf("alice login: %v", err)
	}
	defer aliceSess.Close()
	admin, alice := commander{adminSess}, commander{aliceSess}

	// keysUnchanged fails the test when the store's keys differ from before, as the
	// command line reads them.
	keysUnchanged := func(t *testing.T, before map[string]cliKey) {
		t.Helper()
		after, err := cli.keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(before, after) {
			t.Errorf("the store's keys changed:\nbefore %v\nafter  %v", before, after)
		}
	}

	t.Run("discovery", func(t *testing.T) {
		all := []string{nodeCreateKey, nodeListKeys, nodeDeleteKeys, nodeCreateAccount, nodeInvite,
			nodeListInvites, nodeChangeInvite, nodeRevokeInvites, nodeResetInvite,
			// Who invited whom (issue 24).
			"urn:xmpp-invites:accounts#tree", "urn:xmpp-invites:accounts#approve", "urn:xmpp-invites:accounts#actions"}
		for _, tc := range []struct {
			who  string
			c    commander
			want []string
		}{
			// and the server's own XEP-0133 commands.
			{"admin", admin, append(slices.Clone(all), nodeDeleteUser, nodeDisableUser, nodeReenableUser)},
			// A local user sees only the contact invite and the commands on the invites
			// it made: not even the names of the administrators' commands.
			{"alice", alice, []string{nodeInvite, nodeListInvites, nodeChangeInvite, nodeRevokeInvites}},
		} {
			got, err := commandNodes(ctx, tc.c.sess)
			if err != nil {
				t.Fatalf("%s: disco#items: %v", tc.who, err)
			}
			if nodes := slices.Sorted(maps.Keys(got)); !slices.Equal(nodes, slices.Sorted(slices.Values(tc.want))) {
				t.Errorf("%s sees %v, want %v", tc.who, nodes, tc.want)
			}
			for node, name := range got {
				if name == "" {
					t.Errorf("%s: %s has no name", tc.who, node)
				}
			}
		}
	})

	t.Run("non-admin forbidden", func(t *testing.T) {
		before, err := cli.keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, node := range []string{nodeCreateKey, nodeListKeys, nodeDeleteKeys, nodeCreateAccount, nodeResetInvite} {
			resp, err := alice.execute(ctx, node)
			if !iqErrorIs(err, errForbidden) {
				t.Errorf("%d: alice executing %s: %+v, %v; want auth/forbidden", i, node, resp, err)
			}
		}
		keysUnchanged(t, before)
	})

	t.Run("key lifecycle", func(t *testing.T) {
		// keys#create: execute shows the form…
		first, err := admin.execute(ctx, nodeCreateKey)
		if err != nil {
			t.Fatalf("execute: %v", err)
		}
		if first.Status != adhoc.StatusExecuting || first.SessionID == "" || first.Form == nil || first.Form.Type != adhoc.FormForm ||
			!slices.Contains(first.Actions, adhoc.ActionComplete) {
			t.Fatalf("execute: %+v", first)
		}
		for _, v := range []string{"name", "expires", "max-ttl", "rate"} {
			if _, ok := first.Form.Field(v); !ok {
				t.Errorf("the form has no %s field: %+v", v, first.Form.Fields)
			}
		}
		if f, _ := first.Form.Field("name"); !f.Required {
			t.Errorf("name is not required: %+v", f)
		}
		// …complete creates the key and shows it once.
		done, err := admin.complete(ctx, first, map[string][]string{
			"name": {"portal"}, "expires": {"30d"}, "max-ttl": {"2d"}, "rate": {"100/h"},
		})
		if err != nil {
			t.Fatalf("complete: %v", err)
		}
		key := done.Form.Value("key")
		if done.Status != adhoc.StatusCompleted || done.SessionID != first.SessionID || !strings.HasPrefix(key, done.Form.Value("id")+"/") ||
			done.Form.Value("name") != "portal" || done.Form.Value("rate") == "" || done.Form.Value("max-ttl") == "" {
			t.Fatalf("complete: %+v", done)
		}
		if exp, err := time.Parse(time.RFC3339, done.Form.Value("expires")); err != nil || time.Until(exp) < 29*24*time.Hour || time.Until(exp) > 31*24*time.Hour {
			t.Errorf("expires %q (%v), want in 30 days", done.Form.Value("expires"), err)
		}
		// The warning that the key is shown once, once: at the top of the result form.
		if len(done.Notes) != 0 || !strings.Contains(shown(done.Form, "warning-"), "shown only this once") {
			t.Errorf("no warning that the key is shown once: %+v %+v", done.Notes, done.Form)
		}

		// The key works on the HTTP API at once, within its max-ttl only.
		if status, _, err := getInvite(ctx, nil, srv.http, key, httpapi.CreateParams{}); status != http.StatusCreated {
			t.Fatalf("new key on HTTP: %d %v", status, err)
		}
		if status, _, err := getInvite(ctx, nil, srv.http, key, httpapi.CreateParams{TTL: 72 * time.Hour}); status != http.StatusBadRequest {
			t.Errorf("ttl beyond the key's max-ttl: %d %v, want 400", status, err)
		}

		// keys#list completes at once with the key, its two authenticated uses counted
		// once the bookkeeping is flushed (every second).
		id := keyID(key)
		var row map[string]string
		if !eventually(10*time.Second, func() bool {
			rows, err := admin.listKeys(ctx)
			if err != nil {
				t.Fatalf("keys#list: %v", err)
			}
			row = rows[id]
			return row["uses"] == "2"
		}) {
			t.Fatalf("keys#list row of %s: %v, want 2 uses", id, row)
		}
		if row["name"] != "portal" || row["last-used"] == "never" || row["expires"] == "never" {
			t.Errorf("keys#list row: %v", row)
		}

		// keys#delete: a list-multi of the keys, labelled "name (ID)"…
		form, err := admin.execute(ctx, nodeDeleteKeys)
		if err != nil || form.Status != adhoc.StatusExecuting || form.Form == nil {
			t.Fatalf("keys#delete execute: %+v %v", form, err)
		}
		fl, _ := form.Form.Field("keys")
		if fl.Type != adhoc.FieldListMulti || !slices.Contains(fl.Options, adhoc.Option{Label: "portal (" + id + ")", Value: id}) {
			t.Fatalf("keys#delete field: %+v", fl)
		}
		// …complete deletes the chosen key with a note naming it.
		del, err := admin.complete(ctx, form, map[string][]string{"keys": {id}})
		if err != nil || del.Status != adhoc.StatusCompleted || len(del.Notes) == 0 || !strings.Contains(del.Notes[0].Text, id) {
			t.Fatalf("keys#delete complete: %+v %v", del, err)
		}
		// The next HTTP request with it is rejected.
		if status, _, err := getInvite(ctx, nil, srv.http, key, httpapi.CreateParams{}); status != http.StatusForbidden {
			t.Fatalf("deleted key on HTTP: %d %v, want 403", status, err)
		}
		rows, err := admin.listKeys(ctx)
		if err != nil || rows[id] != nil {
			t.Errorf("keys#list after delete: %v %v", rows, err)
		}
		if keys, err := cli.keys(ctx); err != nil || keys[id] != (cliKey{}) {
			t.Errorf("keys list after delete: %v %v", keys, err)
		}
	})

	t.Run("create-account", func(t *testing.T) {
		for i, tc := range []struct {
			username string // asked for in the form; empty lets the invitee choose
			uri      string // the URI up to the token
			wrong    string // another name to try first, refused when username is set
			register string
		}{
			{username: "", uri: "xmpp:localhost?register;preauth=", register: "dave"},
			{username: "Erin", uri: "xmpp:erin@localhost?register;preauth=", wrong: "frank", register: "erin"},
		} {
			first, err := admin.execute(ctx, nodeCreateAccount)
			if err != nil || first.Status != adhoc.StatusExecuting || first.Form == nil {
				t.Fatalf("%d: execute: %+v %v", i, first, err)
			}
			if f, ok := first.Form.Field("username"); !ok || f.Required {
				t.Fatalf("%d: username field %+v (present %v), want optional", i, f, ok)
			}
			fields := map[string][]string{}
			if tc.username != "" {
				fields["username"] = []string{tc.username}
			}
			done, err := admin.complete(ctx, first, fields)
			if err != nil || done.Status != adhoc.StatusCompleted || done.Form == nil || done.Form.Type != adhoc.FormResult {
				t.Fatalf("%d: complete: %+v %v", i, done, err)
			}
			uri := done.Form.Value("uri")
			token := preauthToken(uri)
			if done.Form.Value("FORM_TYPE") != formTypeInvite || !strings.HasPrefix(uri, tc.uri) || token == "" ||
				done.Form.Value("landing-url") != "https://invite.example/localhost/"+token {
				t.Fatalf("%d: result form %+v", i, done.Form)
			}
			// The plugin's default invite lifetime is 7 days.
			if exp, err := time.Parse(time.RFC3339, done.Form.Value("expire")); err != nil || time.Until(exp) < 7*24*time.Hour-time.Minute || time.Until(exp) > 7*24*time.Hour {
				t.Errorf("%d: expire %q (%v), want in 7 days", i, done.Form.Value("expire"), err)
			}
			registerInvited(ctx, t, srv.c2s, token, tc.wrong, tc.register)
		}
	})

	t.Run("invite", func(t *testing.T) {
		// A contact invite needs no form: execute completes.
		done, err := alice.execute(ctx, nodeInvite)
		if err != nil || done.Status != adhoc.StatusCompleted || done.Form == nil {
			t.Fatalf("execute: %+v %v", done, err)
		}
		uri := done.Form.Value("uri")
		token := preauthToken(uri)
		// allow_user_invites is off (the default, issue 15): a user's contact invite
		// has no ;ibr=y, and a note says it cannot make an account…
		if done.Form.Value("FORM_TYPE") != formTypeInvite || !strings.HasPrefix(uri, "xmpp:alice@localhost?roster;preauth=") ||
			strings.Contains(uri, "ibr=y") || token == "" || done.Form.Value("landing-url") == "" || done.Form.Value("expire") == "" ||
			len(done.Notes) != 0 || !strings.Contains(shown(done.Form, "note-"), "cannot create an account") {
			t.Fatalf("result form %+v, notes %+v", done.Form, done.Notes)
		}
		// …and it registers nothing.
		if el, err := registerWithToken(ctx, srv.c2s, token, "gina", "pw gina"); err == nil {
			t.Fatalf("a user's contact invite registered an account: %v", el)
		}
		// An administrator's contact invite may register (;ibr=y).
		done, err = admin.execute(ctx, nodeInvite)
		if err != nil || !strings.HasSuffix(done.Form.Value("uri"), ";ibr=y") {
			t.Fatalf("the admin's contact invite: %+v %v", done, err)
		}
		registerInvited(ctx, t, srv.c2s, preauthToken(done.Form.Value("uri")), "", "gina")
	})

	t.Run("cancel", func(t *testing.T) {
		if _, err := cli.createKey(ctx, "to-keep"); err != nil { // so that keys#delete has a form
			t.Fatal(err)
		}
		before, err := cli.keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, tc := range []struct {
			node   string
			fields map[string][]string // what completing would have submitted
		}{
			{nodeCreateKey, map[string][]string{"name": {"canceled"}}},
			{nodeDeleteKeys, map[string][]string{"keys": slices.Collect(maps.Keys(before))}},
			{nodeCreateAccount, nil},
		} {
			first, err := admin.execute(ctx, tc.node)
			if err != nil || first.Status != adhoc.StatusExecuting {
				t.Fatalf("%d: %s execute: %+v %v", i, tc.node, first, err)
			}
			c, err := admin.run(ctx, adhoc.Request{Node: tc.node, SessionID: first.SessionID, Action: adhoc.ActionCancel})
			if err != nil || c.Status != adhoc.StatusCanceled || c.SessionID != first.SessionID {
				t.Fatalf("%d: %s cancel: %+v %v", i, tc.node, c, err)
			}
			// The session is gone: completing it now does nothing.
			if resp, err := admin.complete(ctx, first, tc.fields); !iqErrorIs(err, errBadSessionID) {
				t.Errorf("%d: %s complete after cancel: %+v %v, want bad-sessionid", i, tc.node, resp, err)
			}
		}
		keysUnchanged(t, before)
	})

	t.Run("stale sessionid", func(t *testing.T) {
		done, err := admin.createKey(ctx, map[string][]string{"name": {"once"}})
		if err != nil {
			t.Fatal(err)
		}
		before, err := cli.keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := before[done.Form.Value("id")]; !ok {
			t.Fatalf("the new key %s is not in the store: %v", done.Form.Value("id"), before)
		}
		// A completed session is over: replaying its last step, or any step, is
		// bad-sessionid and creates no second key.
		for i, action := range []adhoc.Action{adhoc.ActionComplete, adhoc.ActionExecute, adhoc.ActionPrev, adhoc.ActionCancel} {
			resp, err := admin.run(ctx, adhoc.Request{Node: nodeCreateKey, SessionID: done.SessionID, Action: action, Form: submit(map[string][]string{"name": {"twice"}})})
			if !iqErrorIs(err, errBadSessionID) {
				t.Errorf("%d: %s with the completed session: %+v %v, want bad-sessionid", i, action, resp, err)
			}
		}
		// Nor may another account use a live session of the administrator's.
		live, err := admin.execute(ctx, nodeCreateAccount)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := alice.run(ctx, adhoc.Request{Node: nodeInvite, SessionID: live.SessionID, Action: adhoc.ActionComplete}); !iqErrorIs(err, errBadSessionID) {
			t.Errorf("alice with the admin's session: %+v %v, want bad-sessionid", resp, err)
		}
		if _, err := admin.run(ctx, adhoc.Request{Node: nodeCreateAccount, SessionID: live.SessionID, Action: adhoc.ActionCancel}); err != nil {
			t.Errorf("cancel: %v", err)
		}
		keysUnchanged(t, before)
	})

	// Issue 22: a form left open (profanity's cancel sends none) ends with its stream,
	// a reconnect with the same full JID starts clean, and no one is ever told "too
	// many open command sessions".
	t.Run("sessions end with the stream", func(t *testing.T) {
		login := func() *rawCommander {
			t.Helper()
			// The resource is free again once the server has ended the last stream
			// bound to it, and that stream's command sessions.
			for range 100 {
				c, err := rawCommandLogin(ctx, srv.c2s, "admin", "admin secret", "desk")
				if err != nil {
					t.Fatal(err)
				}
				if c.jid == "admin@localhost/desk" {
					return c
				}
				c.close()
				time.Sleep(20 * time.Millisecond)
			}
			t.Fatal("admin@localhost/desk is still bound")
			return nil
		}
		// state says what the server knows of a session at its first stage: prev is
		// not offered there (bad-action) while it is open.
		state := func(c *rawCommander, sid string) string {
			t.Helper()
			_, _, err := c.run(adhoc.Request{Node: nodeCreateAccount, SessionID: sid, Action: adhoc.ActionPrev})
			var e *adhoctest.IQError
			if !errors.As(err, &e) {
				t.Fatalf("prev at the first stage: %v", err)
			}
			return e.Command
		}
		open := func(c *rawCommander, n int) []string {
			t.Helper()
			var sids []string
			for i := range n {
				resp, _, err := c.run(adhoc.Request{Node: nodeCreateAccount, Action: adhoc.ActionExecute})
				if err != nil || resp.Status != adhoc.StatusExecuting {
					t.Fatalf("form %d: %+v %v", i, resp, err)
				}
				sids = append(sids, resp.SessionID)
			}
			return sids
		}
		first := login()
		sids := open(first, 20)
		// Past the bound (8), a new form replaced the least recently used one.
		if got := state(first, sids[0]); got != "session-expired" {
			t.Fatalf("the first of 20 forms: %s, want session-expired", got)
		}
		if got := state(first, sids[19]); got != "bad-action" {
			t.Fatalf("the last of 20 forms: %s, want it open", got)
		}
		first.close()
		again := login()
		defer again.close()
		// The stream's end cancelled its forms: they are gone, not replaced.
		for _, sid := range sids[12:] {
			if got := state(again, sid); got != "bad-sessionid" {
				t.Fatalf("a form of the ended stream: %s, want bad-sessionid", got)
			}
		}
		// A clean start: eight forms fit without replacing one another…
		more := open(again, 8)
		if got := state(again, more[0]); got != "bad-action" {
			t.Fatalf("the first form after the reconnect: %s, want it open", got)
		}
		// …and twenty more are never refused.
		open(again, 20)
	})

	t.Run("malformed form", func(t *testing.T) {
		keep, err := cli.createKey(ctx, "survivor")
		if err != nil {
			t.Fatal(err)
		}
		before, err := cli.keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, tc := range []struct {
			node    string
			form    *adhoc.Form
			refused string            // a value to correct: the form again, with this reason
			want    adhoctest.IQError // else this IQ error
		}{
			// Reasons name the field by its label, as people see it.
			0: {node: nodeCreateKey, form: submit(map[string][]string{"name": {"x"}, "rate": {"lots"}}), refused: "Rate limit: "},
			1: {node: nodeCreateKey, form: submit(map[string][]string{"name": {"x"}, "expires": {"soon"}}), refused: "Key expires after: "},
			2: {node: nodeCreateKey, form: submit(map[string][]string{"name": {"x"}, "max-ttl": {"-1"}}), refused: "Longest invite lifetime: "},
			3: {node: nodeCreateKey, form: submit(map[string][]string{"rate": {"10/h"}}), refused: "Name: a name is required"},
			4: {node: nodeCreateKey, form: submit(map[string][]string{"name": {"x", "y"}}), want: errBadPayload},
			5: {node: nodeCreateKey, form: &adhoc.Form{Type: adhoc.FormForm, Fields: []adhoc.Field{{Var: "name", Values: []string{"x"}}}}, want: errBadPayload},
			// One unknown key among the chosen: nothing is deleted, not even the known one.
			6: {node: nodeDeleteKeys, form: submit(map[string][]string{"keys": {keyID(keep), "no-such-key"}}), refused: "no-such-key"},
			7: {node: nodeDeleteKeys, form: submit(map[string][]string{"keys": {}}), refused: "select at least one key"},
			8: {node: nodeCreateAccount, form: submit(map[string][]string{"username": {"alice"}}), refused: "already exists"},
			9: {node: nodeCreateAccount, form: submit(map[string][]string{"username": {"no@such"}}), refused: "Username: "},
		} {
			first, err := admin.execute(ctx, tc.node)
			if err != nil || first.Status != adhoc.StatusExecuting {
				t.Fatalf("%d: execute: %+v %v", i, first, err)
			}
			resp, err := admin.run(ctx, adhoc.Request{Node: tc.node, SessionID: first.SessionID, Action: adhoc.ActionComplete, Form: tc.form})
			if tc.refused != "" && !isRefused(resp, err, tc.refused) {
				t.Errorf("%d: %s: %+v %v, want the form again about %q", i, tc.node, resp, err, tc.refused)
			}
			if tc.refused == "" && !iqErrorIs(err, tc.want) {
				t.Errorf("%d: %s: %+v %v, want %v", i, tc.node, resp, err, &tc.want)
			}
			// The session survives a form to correct: cancelling it works.
			if c, err := admin.run(ctx, adhoc.Request{Node: tc.node, SessionID: first.SessionID, Action: adhoc.ActionCancel}); err != nil || c.Status != adhoc.StatusCanceled {
				t.Errorf("%d: cancel after the error: %+v %v", i, c, err)
			}
		}
		keysUnchanged(t, before)
		if status, _, err := getInvite(ctx, nil, srv.http, keep, httpapi.CreateParams{}); status != http.StatusCreated {
			t.Errorf("the key of the refused delete: %d %v", status, err)
		}

		// Corrected in the same session, the form goes through.
		first, err := admin.execute(ctx, nodeCreateKey)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := admin.complete(ctx, first, map[string][]string{"name": {"fixed"}, "rate": {"lots"}}); !isRefused(resp, err, "Rate limit: ") ||
			resp.Form.Value("name") != "fixed" || resp.Form.Value("rate") != "lots" {
			t.Fatalf("rate lots: %+v %v", resp, err)
		}
		done, err := admin.complete(ctx, first, map[string][]string{"name": {"fixed"}, "rate": {"10/h"}})
		if err != nil || done.Status != adhoc.StatusCompleted || done.Form.Value("rate") == "" {
			t.Fatalf("corrected form: %+v %v", done, err)
		}
	})

	t.Run("mirror", func(t *testing.T) {
		// Command line → ad-hoc list.
		fromCLI, err := cli.createKey(ctx, "from-cli")
		if err != nil {
			t.Fatal(err)
		}
		rows, err := admin.listKeys(ctx)
		if err != nil || rows[keyID(fromCLI)]["name"] != "from-cli" {
			t.Fatalf("key created on the command line, ad-hoc list: %v %v", rows, err)
		}
		// Ad-hoc → command line.
		done, err := admin.createKey(ctx, map[string][]string{"name": {"from-adhoc"}})
		if err != nil {
			t.Fatal(err)
		}
		keys, err := cli.keys(ctx)
		if err != nil || keys[done.Form.Value("id")].name != "from-adhoc" {
			t.Fatalf("key created by ad-hoc, command line list: %v %v", keys, err)
		}
		// Deleted on the command line: rejected on HTTP at once, gone from the list.
		if status, _, err := getInvite(ctx, nil, srv.http, fromCLI, httpapi.CreateParams{}); status != http.StatusCreated {
			t.Fatalf("command line key before delete: %d %v", status, err)
		}
		// "--": an ID may begin with "-".
		if _, err := cli.run(ctx, "keys", "delete", "localhost", "--", keyID(fromCLI)); err != nil {
			t.Fatal(err)
		}
		if status, _, err := getInvite(ctx, nil, srv.http, fromCLI, httpapi.CreateParams{}); status != http.StatusForbidden {
			t.Fatalf("key deleted on the command line, on HTTP: %d %v, want 403", status, err)
		}
		if rows, err := admin.listKeys(ctx); err != nil || rows[keyID(fromCLI)] != nil {
			t.Errorf("key deleted on the command line, ad-hoc list: %v %v", rows, err)
		}
	})

	t.Run("create-key round trip", func(t *testing.T) {
		// Over the real TLS stream: client → xmppd → gRPC → plugin → SQLite and back,
		// two IQs per run. Only logged: timings are the machine's, not the code's.
		const runs = 50
		times := make([]time.Duration, runs)
		for i := range runs {
			start := time.Now()
			if _, err := admin.createKey(ctx, map[string][]string{"name": {fmt.Sprintf("rt-%d", i)}}); err != nil {
				t.Fatalf("%d: %v", i, err)
			}
			times[i] = time.Since(start)
		}
		var sum time.Duration
		for _, d := range times {
			sum += d
		}
		slices.Sort(times)
		t.Logf("create-key round trip (execute → completed), %d runs: mean %v, median %v, min %v, max %v",
			runs, sum/runs, times[runs/2], times[0], times[runs-1])
	})

	// Issue 21 LOW 7: the lists page, each page well under the stanza limit, as
	// xmppd sends it, with what a client sends back with next understood.
	t.Run("lists page", func(t *testing.T) {
		c, err := rawCommandLogin(ctx, srv.c2s, "admin", "admin secret", "pager")
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		key, err := cli.createKey(ctx, "pager")
		if err != nil {
			t.Fatal(err)
		}
		for i := range 120 {
			first, _, err := c.run(adhoc.Request{Node: nodeCreateKey, Action: adhoc.ActionExecute})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.run(adhoc.Request{Node: nodeCreateKey, SessionID: first.SessionID, Action: adhoc.ActionComplete,
				Form: submit(map[string][]string{"name": {fmt.Sprintf("pager %03d %s", i, strings.Repeat("<&>", 30))}})}); err != nil {
				t.Fatal(err)
			}
			if status, _, err := getInvite(ctx, nil, srv.http, key, httpapi.CreateParams{Note: fmt.Sprintf("page %d", i)}); status != http.StatusCreated {
				t.Fatalf("invite %d: %d %v", i, status, err)
			}
		}
		// pageThrough runs a list from its first request to its last page, sending each
		// page's fields back with next, and returns the column col of every page.
		pageThrough := func(req adhoc.Request, col string) []string {
			t.Helper()
			var got []string
			for pages := 1; ; pages++ {
				resp, size, err := c.run(req)
				if err != nil {
					t.Fatalf("page %d: %v", pages, err)
				}
				if size > 64<<10 {
					t.Errorf("page %d is %d bytes", pages, size)
				}
				fl, _ := resp.Form.Field(col)
				got = append(got, fl.Values...)
				t.Logf("%s page %d: %s, %d bytes", req.Node, pages, resp.Form.Value("page"), size)
				if resp.Status == adhoc.StatusCompleted {
					if pages < 2 {
						t.Errorf("one page")
					}
					return got
				}
				echo := &adhoc.Form{Type: adhoc.FormSubmit}
				for _, fl := range resp.Form.Fields {
					if fl.Type != adhoc.FieldFixed {
						echo.Fields = append(echo.Fields, adhoc.Field{Var: fl.Var, Values: fl.Values})
					}
				}
				req = adhoc.Request{Node: req.Node, SessionID: resp.SessionID, Action: adhoc.ActionNext, Form: echo}
			}
		}
		listed := pageThrough(adhoc.Request{Node: nodeListKeys, Action: adhoc.ActionExecute}, "id")
		keys, err := cli.keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(listed) != len(keys) || len(keys) < 121 {
			t.Fatalf("%d keys listed, %d on the command line", len(listed), len(keys))
		}
		for _, id := range listed {
			if _, ok := keys[id]; !ok {
				t.Fatalf("listed %s, which the command line does not know", id)
			}
			delete(keys, id) // listed once
		}
		first, _, err := c.run(adhoc.Request{Node: nodeListInvites, Action: adhoc.ActionExecute})
		if err != nil {
			t.Fatal(err)
		}
		notes := pageThrough(adhoc.Request{Node: nodeListInvites, SessionID: first.SessionID, Action: adhoc.ActionNext,
			Form: submit(map[string][]string{"status": {"pending"}})}, "note")
		if !slices.Contains(notes, "page 0") || !slices.Contains(notes, "page 119") {
			t.Fatalf("the invites' notes: %v", notes)
		}
	})
}

// registerInvited registers an account with an invite token on the server at addr:
// first as wrong (when set), which the invite must refuse, then as user, which must
// work and log in. The token is then used up.
func registerInvited(ctx context.Context, t *testing.T, addr, token, wrong, user string) {
	t.Helper()
	if wrong != "" {
		el, err := registerWithToken(ctx, addr, token, wrong, pw(wrong))
		if err != nil || el.Attr("type") != "error" || !strings.Contains(el.Inner, "not-acceptable") {
			t.Fatalf("registering %s with an invite for another name: %v %v", wrong, el, err)
		}
	}
	el, err := registerWithToken(ctx, addr, token, user, pw(user))
	if err != nil || el.Attr("type") != "result" {
		t.Fatalf("registering %s with the invite: %v %v", user, el, err)
	}
	s, err := testclient.Login(ctx, addr, user, pw(user), sasl.ScramSha256)
	if err != nil {
		t.Fatalf("%s logs in: %v", user, err)
	}
	defer s.Close()
	if err := ping.Send(ctx, s, jid.MustParse("localhost")); err != nil {
		t.Fatalf("%s pings: %v", user, err)
	}
	if el, err := registerWithToken(ctx, addr, token, user+"2", "pw"); err == nil {
		t.Fatalf("the used invite registered another account: %v", el)
	}
}

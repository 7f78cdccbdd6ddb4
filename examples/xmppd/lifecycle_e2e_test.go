package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/httpapi"
)

// The invite lifecycle end to end (issue 13, "Must show"): create with a note and a
// group → list → change the expiry → two in-band registrations with it → shown with
// both JIDs → revoke → refused; over HTTP (through httpapi's client), on the command
// line and through ad-hoc commands, each against xmppd with the plugin on its own SQLite store. Groups are
// applied as circles: accounts registered with invites of one group are in each
// other's rosters.

// jids lists the accounts that used an invite.
func jids(inv httpapi.Invite) []string {
	var out []string
	for _, r := range inv.Redemptions {
		out = append(out, r.JID)
	}
	return out
}

// apiClient is a client of the HTTP API of the server at base (host:port) with key.
func apiClient(t *testing.T, base, key string) *httpapi.Client {
	t.Helper()
	c, err := httpapi.NewClient("http://"+base+"/invites_api", key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mustRegister registers user with the invite token over XMPP (XEP-0445 pre-auth,
// then XEP-0077) and checks that the account logs in.
func mustRegister(t *testing.T, ctx context.Context, addr, token, user string) {
	t.Helper()
	el, err := registerWithToken(ctx, addr, token, user, pw(user))
	if err != nil || el.Attr("type") != "result" {
		t.Fatalf("registering %s: %v %v", user, el, err)
	}
	s, err := testclient.Login(ctx, addr, user, pw(user), sasl.ScramSha256)
	if err != nil {
		t.Fatalf("%s logs in: %v", user, err)
	}
	_ = s.Close()
}

// refused checks that registering user with token is refused at pre-authentication.
func refused(t *testing.T, ctx context.Context, addr, token, user string) {
	t.Helper()
	el, err := registerWithToken(ctx, addr, token, user, "pw")
	if err == nil || !strings.Contains(err.Error(), "item-not-found") {
		t.Fatalf("registering %s with the revoked invite: %v %v, want item-not-found at pre-auth", user, el, err)
	}
}

// inRosters checks that each of the accounts (localpart → password) holds every other
// in its roster with subscription both: the circle of their group.
func inRosters(t *testing.T, ctx context.Context, addr string, accounts map[string]string) {
	t.Helper()
	for user, pass := range accounts {
		c := rawLogin(t, ctx, addr, user, pass)
		el, err := c.IQ(`<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
		if err != nil {
			t.Fatal(err)
		}
		for other := range accounts {
			if other != user && !hasItem(other+"@localhost", "both")(el) {
				t.Errorf("%s's roster lacks %s with subscription both: %v", user, other, el)
			}
		}
		_ = c.Close()
	}
}

// TestLifecycleHTTP: the lifecycle over HTTP, with key scoping: a key without
// --manage sees and changes only its own invites (any other is 404), one with
// --manage every invite of its host.
func TestLifecycleHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	srv, cli := startAdminServer(t, []string{"INVITES_STORE="})
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	portal, err := cli.createKey(ctx, "portal")
	if err != nil {
		t.Fatal(err)
	}
	other, err := cli.createKey(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	manager, err := cli.createKey(ctx, "manager", "--manage")
	if err != nil {
		t.Fatal(err)
	}
	api, otherAPI, managerAPI := apiClient(t, srv.http, portal), apiClient(t, srv.http, other), apiClient(t, srv.http, manager)

	// Create with a note and a group, for two accounts.
	two := 2
	created, err := api.Create(ctx, httpapi.CreateParams{MaxUses: &two, Note: "spring course", Groups: []string{"team"}})
	if err != nil || created.Token == "" || created.Note != "spring course" || !slices.Equal(created.Groups, []string{"team"}) || created.MaxUses != 2 ||
		created.CreatedBy != "api/token/"+keyID(portal) || created.Status != "pending" {
		t.Fatalf("created %+v %v", created, err)
	}

	// List: the portal's key sees it; another key does not, and gets 404 for it.
	list, err := api.List(ctx, httpapi.ListParams{Status: "pending"})
	if err != nil || len(list.Invites) != 1 || list.Invites[0].ID != created.ID || list.Invites[0].Note != "spring course" || list.Invites[0].Token != "" {
		t.Fatalf("the portal's list: %+v %v", list, err)
	}
	if list, err = otherAPI.List(ctx, httpapi.ListParams{}); err != nil || len(list.Invites) != 0 {
		t.Fatalf("another key's list shows %+v %v", list, err)
	}
	if _, err := otherAPI.Show(ctx, created.ID); !errors.Is(err, httpapi.ErrNotFound) {
		t.Errorf("show with another key: %v, want 404", err)
	}
	mine := "mine"
	if _, err := otherAPI.Update(ctx, created.ID, httpapi.Patch{Note: &mine}); !errors.Is(err, httpapi.ErrNotFound) {
		t.Errorf("change with another key: %v, want 404", err)
	}
	if err := otherAPI.Revoke(ctx, created.ID); !errors.Is(err, httpapi.ErrNotFound) {
		t.Errorf("revoke with another key: %v, want 404", err)
	}
	// A --manage key sees every invite of the host.
	if list, err = managerAPI.List(ctx, httpapi.ListParams{}); err != nil || len(list.Invites) != 1 || list.Invites[0].ID != created.ID {
		t.Fatalf("the manager's list: %+v %v", list, err)
	}

	// Change the expiry.
	expires := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	patched, err := api.Update(ctx, created.ID, httpapi.Patch{ExpiresAt: expires})
	if err != nil || !patched.ExpiresAt.Equal(expires) || patched.Note != "spring course" {
		t.Fatalf("patched %+v %v, want expires_at %s", patched, err, expires)
	}

	// Two in-band registrations with it.
	mustRegister(t, ctx, srv.c2s, created.Token, "ann")
	mustRegister(t, ctx, srv.c2s, created.Token, "ben")
	shown, err := api.Show(ctx, created.ID)
	if err != nil || shown.Status != "used" || shown.Uses != 2 || !slices.Equal(jids(shown), []string{"ann@localhost", "ben@localhost"}) {
		t.Fatalf("shown %+v %v", shown, err)
	}
	// The group made them a circle.
	inRosters(t, ctx, srv.c2s, map[string]string{"ann": pw("ann"), "ben": pw("ben")})

	// Revoke: the record stays, revoked; the token is refused.
	if err := api.Revoke(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if shown, err = managerAPI.Show(ctx, created.ID); err != nil || shown.Status != "revoked" || shown.RevokedAt.IsZero() || len(shown.Redemptions) != 2 {
		t.Fatalf("after revocation %+v %v", shown, err)
	}
	refused(t, ctx, srv.c2s, created.Token, "cat")

	// A fixed-username invite for an account that exists is refused (issue 16), as the
	// ad-hoc command refuses it; a free name is not.
	if _, err := api.Create(ctx, httpapi.CreateParams{Username: "Ann"}); !errors.Is(err, httpapi.ErrConflict) ||
		!strings.Contains(err.Error(), "ann@localhost already exists") {
		t.Errorf("invite for the existing account ann: %v, want 409", err)
	}
	if _, err := api.Create(ctx, httpapi.CreateParams{Username: "dora"}); err != nil {
		t.Errorf("invite for dora: %v", err)
	}
}

// TestLifecycleCLI: the same on the plugin's command line, against the store the
// running server uses; and a reset invite made there sets a new password in-band.
func TestLifecycleCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := binaries(t)
	work := t.TempDir()
	data := filepath.Join(work, "data")
	env := []string{"INVITES_STORE="}
	srv := startServerEnv(t, bin, work, env, "-data", data)
	cli := pluginCLI{bin: bin, env: env, args: []string{"-data", data}}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	out, err := cli.run(ctx, "invites", "create", "localhost", "--max-uses", "2", "--note", "cli course", "--group", "team")
	uri := strings.TrimSpace(out)
	token := preauthToken(uri)
	if err != nil || !strings.HasPrefix(uri, "xmpp:localhost?register;preauth=") || token == "" {
		t.Fatalf("invites create: %q %v", out, err)
	}
	out, err = cli.run(ctx, "invites", "list", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	cols := strings.Split(strings.TrimSpace(out), "\t")
	if len(cols) != 7 || cols[1] != "account" || cols[2] != "pending" || cols[3] != "0/2" || cols[5] != "cli" || cols[6] != "cli course" {
		t.Fatalf("invites list: %q", out)
	}
	id := cols[0]
	if _, err := cli.run(ctx, "invites", "update", "localhost", id, "--expires", "3d"); err != nil {
		t.Fatal(err)
	}
	mustRegister(t, ctx, srv.c2s, token, "cora")
	mustRegister(t, ctx, srv.c2s, token, "dan")
	out, err = cli.run(ctx, "invites", "show", "localhost", id, "--json")
	var shown httpapi.Invite
	if err != nil || json.Unmarshal([]byte(out), &shown) != nil || shown.Status != "used" ||
		!slices.Equal(jids(shown), []string{"cora@localhost", "dan@localhost"}) || !slices.Equal(shown.Groups, []string{"team"}) {
		t.Fatalf("invites show --json: %q %v", out, err)
	}
	if exp := shown.ExpiresAt; time.Until(exp) < 71*time.Hour || time.Until(exp) > 73*time.Hour {
		t.Errorf("expires_at %s after update --expires 3d", shown.ExpiresAt)
	}
	out, err = cli.run(ctx, "invites", "show", "localhost", id)
	if err != nil || !strings.Contains(out, "cora@localhost at ") || !strings.Contains(out, "dan@localhost at ") {
		t.Fatalf("invites show: %q %v", out, err)
	}
	inRosters(t, ctx, srv.c2s, map[string]string{"cora": pw("cora"), "dan": pw("dan")})
	if _, err := cli.run(ctx, "invites", "revoke", "localhost", id); err != nil {
		t.Fatal(err)
	}
	refused(t, ctx, srv.c2s, token, "eve")
	if out, err := cli.run(ctx, "invites", "list", "localhost", "--status", "revoked"); err != nil || !strings.HasPrefix(out, id+"\taccount\trevoked\t2/2\t") {
		t.Fatalf("revoked list: %q %v", out, err)
	}
	// A password reset invite for cora, from the command line.
	out, err = cli.run(ctx, "invites", "create", "localhost", "--reset", "cora")
	if err != nil || !strings.HasPrefix(out, "xmpp:cora@localhost?register;preauth=") {
		t.Fatalf("invites create --reset: %q %v", out, err)
	}
	resetInBand(t, ctx, srv.c2s, preauthToken(strings.TrimSpace(out)), "cora", pw("cora"))
}

// TestLifecycleAdhoc: the same through ad-hoc commands, as an administrator; a user
// lists, changes and revokes only the contact invites the user made; an administrator's
// reset invite sets a new password in-band.
func TestLifecycleAdhoc(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := binaries(t)
	work := t.TempDir()
	data := filepath.Join(work, "data")
	addUser(t, bin, data, "admin@localhost", "admin secret")
	addUser(t, bin, data, "alice@localhost", "alice secret")
	srv := startServer(t, bin, work, "-data", data, "-admin", "admin@localhost")
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	adminSess, err := testclient.Login(ctx, srv.c2s, "admin", "admin secret", sasl.ScramSha256)
	if err != nil {
		t.Fatal(err)
	}
	defer adminSess.Close()
	aliceSess, err := testclient.Login(ctx, srv.c2s, "alice", "alice secret", sasl.ScramSha256)
	if err != nil {
		t.Fatal(err)
	}
	defer aliceSess.Close()
	admin, alice := commander{adminSess}, commander{aliceSess}

	// run executes a command through its stages, submitting fields[i] at stage i with
	// next (as poezio does; next on the last stage completes).
	run := func(c commander, node string, fields ...map[string][]string) adhoc.Response {
		t.Helper()
		resp, err := c.execute(ctx, node)
		for i := 0; err == nil && resp.Status == adhoc.StatusExecuting; i++ {
			if i >= len(fields) {
				t.Fatalf("%s: more stages than forms: %+v", node, resp)
			}
			resp, err = c.run(ctx, adhoc.Request{Node: node, SessionID: resp.SessionID, Action: adhoc.ActionNext, Form: submit(fields[i])})
		}
		if err != nil || resp.Status != adhoc.StatusCompleted {
			t.Fatalf("%s: %+v %v", node, resp, err)
		}
		return resp
	}
	// rows reads "List invites" by ID.
	rows := func(c commander, status string) map[string]map[string]string {
		t.Helper()
		resp := run(c, nodeListInvites, map[string][]string{"status": {status}})
		out := map[string]map[string]string{}
		if resp.Form == nil {
			return out
		}
		ids, _ := resp.Form.Field("id")
		for i, id := range ids.Values {
			row := map[string]string{}
			for _, fl := range resp.Form.Fields {
				row[fl.Var] = fl.Values[i]
			}
			out[id] = row
		}
		return out
	}

	// Create, with a note and a group; three uses, so that it is still pending after
	// two, when it is revoked.
	done := run(admin, nodeCreateAccount, map[string][]string{"max-uses": {"3"}, "note": {"adhoc course"}, "groups": {"team"}})
	token := preauthToken(done.Form.Value("uri"))
	var id string
	for rid, row := range rows(admin, "pending") {
		if row["note"] == "adhoc course" {
			id = rid
		}
	}
	if id == "" || token == "" {
		t.Fatalf("the new invite is not listed (token %q)", token)
	}
	// Change the expiry (second stage: expires, max-uses, note, filled in).
	done = run(admin, nodeChangeInvite, map[string][]string{"invite": {id}}, map[string][]string{"expires": {"3d"}, "max-uses": {"3"}, "note": {"adhoc course"}})
	if len(done.Notes) != 1 || !strings.Contains(done.Notes[0].Text, "Changed "+id) {
		t.Fatalf("change: %+v", done)
	}
	mustRegister(t, ctx, srv.c2s, token, "fay")
	mustRegister(t, ctx, srv.c2s, token, "gus")
	row := rows(admin, "all")[id]
	if row["used-by"] != "fay@localhost, gus@localhost" || row["uses"] != "2" || row["status"] != "pending" || row["groups"] != "team" {
		t.Fatalf("the list after two uses: %v", row)
	}
	if exp, err := time.Parse(time.RFC3339, row["expires"]); err != nil || time.Until(exp) < 71*time.Hour {
		t.Errorf("expires %q after the change to 3d", row["expires"])
	}
	inRosters(t, ctx, srv.c2s, map[string]string{"fay": pw("fay"), "gus": pw("gus")})
	done = run(admin, nodeRevokeInvites, map[string][]string{"invites": {id}})
	if len(done.Notes) != 1 || !strings.HasPrefix(done.Notes[0].Text, "Revoked 1 invite: "+id+" (adhoc course — ") {
		t.Fatalf("revoke: %+v", done)
	}
	refused(t, ctx, srv.c2s, token, "hal")
	if rows(admin, "revoked")[id]["status"] != "revoked" {
		t.Errorf("the invite is not listed as revoked")
	}

	// A user: alice sees, changes and revokes her own contact invites only.
	inv := run(alice, nodeInvite)
	aliceToken := preauthToken(inv.Form.Value("uri"))
	mine := rows(alice, "all")
	if len(mine) != 1 {
		t.Fatalf("alice lists %v, want her one invite", mine)
	}
	for aliceID, r := range mine {
		if r["kind"] != "contact" || r["created-by"] != "xmpp:alice@localhost" || r["id"] == id {
			t.Fatalf("alice's list: %v", r)
		}
		// The admin's invite is no invite of hers.
		resp, err := alice.execute(ctx, nodeChangeInvite)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := alice.run(ctx, adhoc.Request{Node: nodeChangeInvite, SessionID: resp.SessionID, Action: adhoc.ActionNext,
			Form: submit(map[string][]string{"invite": {id}})}); !isRefused(resp, err, "Invite to change: no such invite") {
			t.Errorf("alice changing the admin's invite: %+v %v", resp, err)
		}
		done := run(alice, nodeRevokeInvites, map[string][]string{"invites": {aliceID}})
		if len(done.Notes) != 1 || !strings.HasPrefix(done.Notes[0].Text, "Revoked 1 invite: "+aliceID+" (contact invite of alice, expires ") {
			t.Fatalf("alice revoking hers: %+v", done)
		}
	}
	// Her revoked contact invite no longer adds her as a contact (XEP-0379): the
	// pre-auth is refused.
	if el, err := registerWithToken(ctx, srv.c2s, aliceToken, "ivy", "pw"); err == nil {
		t.Errorf("alice's revoked invite: %v", el)
	}

	// A password reset invite for alice, by the administrator's command; none for an
	// account that does not exist.
	first, err := admin.execute(ctx, nodeResetInvite)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := admin.complete(ctx, first, map[string][]string{"username": {"nobody"}}); !isRefused(resp, err, "Username: there is no account nobody@localhost") {
		t.Errorf("reset invite for no account: %+v %v", resp, err)
	}
	reset, err := admin.complete(ctx, first, map[string][]string{"username": {"alice"}, "note": {"lost phone"}})
	if err != nil || !strings.HasPrefix(reset.Form.Value("uri"), "xmpp:alice@localhost?register;preauth=") {
		t.Fatalf("reset invite: %+v %v", reset, err)
	}
	resetInBand(t, ctx, srv.c2s, preauthToken(reset.Form.Value("uri")), "alice", "alice secret")
}

// resetInBand uses a reset invite in-band (pre-auth, then the account's name and a new
// password) and checks that the new password logs in and the old one no longer does.
func resetInBand(t *testing.T, ctx context.Context, addr, token, user, old string) {
	t.Helper()
	if el, err := registerWithToken(ctx, addr, token, user, pw(user)+" anew"); err != nil || el.Attr("type") != "result" {
		t.Fatalf("in-band reset of %s: %v %v", user, el, err)
	}
	if s, err := testclient.Login(ctx, addr, user, pw(user)+" anew", sasl.ScramSha256); err != nil {
		t.Errorf("%s with the new password: %v", user, err)
	} else {
		_ = s.Close()
	}
	if s, err := testclient.Login(ctx, addr, user, old, sasl.ScramSha256); err == nil {
		_ = s.Close()
		t.Errorf("%s's old password still works", user)
	}
}

// TestGroupCircles: two accounts registered with two different invites of group
// "team" (one from the HTTP API, one from the ad-hoc command) end up in each other's
// rosters; an account invited without the group does not join them.
func TestGroupCircles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	srv, cli := startAdminServer(t, []string{"INVITES_STORE="})
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	key, err := cli.createKey(ctx, "portal")
	if err != nil {
		t.Fatal(err)
	}
	api := apiClient(t, srv.http, key)
	fromHTTP, err := api.Create(ctx, httpapi.CreateParams{Groups: []string{"team"}})
	if err != nil {
		t.Fatal(err)
	}
	adminSess, err := testclient.Login(ctx, srv.c2s, "admin", "admin secret", sasl.ScramSha256)
	if err != nil {
		t.Fatal(err)
	}
	defer adminSess.Close()
	admin := commander{adminSess}
	first, err := admin.execute(ctx, nodeCreateAccount)
	if err != nil {
		t.Fatal(err)
	}
	done, err := admin.complete(ctx, first, map[string][]string{"groups": {"team"}})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := api.Create(ctx, httpapi.CreateParams{})
	if err != nil {
		t.Fatal(err)
	}

	mustRegister(t, ctx, srv.c2s, fromHTTP.Token, "kim")
	mustRegister(t, ctx, srv.c2s, preauthToken(done.Form.Value("uri")), "lee")
	mustRegister(t, ctx, srv.c2s, plain.Token, "max")
	inRosters(t, ctx, srv.c2s, map[string]string{"kim": pw("kim"), "lee": pw("lee")})
	c := rawLogin(t, ctx, srv.c2s, "max", pw("max"))
	el, err := c.IQ(`<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
	if err != nil || strings.Contains(el.Inner, "kim@localhost") || strings.Contains(el.Inner, "lee@localhost") {
		t.Errorf("max, invited without the group, has the team in his roster: %v %v", el, err)
	}
}

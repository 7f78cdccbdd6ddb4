package main_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
)

// TestTwoNodesLifecycle: two xmppd nodes whose plugins share one PostgreSQL schema see
// one invite lifecycle. The key comes from a command line that knows neither node's
// data directory (issue 16: the hosts are in the store); the invite is created on A,
// changed on B, used once on each node, shown with both accounts on A, revoked by an
// administrator's ad-hoc command on B, and then refused on A.
func TestTwoNodesLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := binaries(t)
	_, dsn := pgtest.Schema(t)
	work := t.TempDir()
	env := []string{"INVITES_STORE=" + dsn}
	var nodes []*node
	for _, name := range []string{"a", "b"} {
		data := filepath.Join(work, name, "data")
		addUser(t, bin, data, "admin@localhost", "admin secret")
		srv := startServerEnv(t, bin, filepath.Join(work, name), env, "-data", data, "-admin", "admin@localhost")
		nodes = append(nodes, &node{name: name, srv: srv, data: data})
	}
	a, b := nodes[0], nodes[1]
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	// The README's "invites-plugin -store 'postgres://…' keys create HOST", from a
	// directory with no data directory at all.
	elsewhere := pluginCLI{bin: bin, env: []string{"INVITES_STORE="}, args: []string{"-store", dsn}}
	key, err := elsewhere.createKey(ctx, "portal")
	if err != nil {
		t.Fatalf("keys create with -store alone: %v", err)
	}

	var created apiInvite
	apiDecode(t, ctx, http.StatusCreated, &created, "POST", a.srv.http, "/invites_api", key, "application/x-www-form-urlencoded",
		url.Values{"max_uses": {"2"}, "note": {"two nodes"}}.Encode())
	path := "/invites_api/invites/" + created.ID
	var list struct{ Invites []apiInvite }
	apiDecode(t, ctx, http.StatusOK, &list, "GET", b.srv.http, "/invites_api/invites", key, "", "")
	if len(list.Invites) != 1 || list.Invites[0].ID != created.ID {
		t.Fatalf("B's list: %+v", list)
	}
	var patched apiInvite
	apiDecode(t, ctx, http.StatusOK, &patched, "PATCH", b.srv.http, path, key, "application/merge-patch+json", `{"max_uses":3}`)
	if patched.MaxUses != 3 {
		t.Fatalf("patched on B: %+v", patched)
	}
	mustRegister(t, ctx, a.srv.c2s, created.Token, "nia")
	mustRegister(t, ctx, b.srv.c2s, created.Token, "oto")
	var shown apiInvite
	apiDecode(t, ctx, http.StatusOK, &shown, "GET", a.srv.http, path, key, "", "")
	if shown.Uses != 2 || shown.Status != "pending" || !slices.Equal(shown.jids(), []string{"nia@localhost", "oto@localhost"}) {
		t.Fatalf("shown on A: %+v", shown)
	}

	s, err := testclient.Login(ctx, b.srv.c2s, "admin", "admin secret", sasl.ScramSha256)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	admin := commander{s}
	form, err := admin.execute(ctx, nodeRevokeInvites)
	if err != nil || form.Status != adhoc.StatusExecuting {
		t.Fatalf("revoke form on B: %+v %v", form, err)
	}
	done, err := admin.complete(ctx, form, map[string][]string{"invites": {created.ID}})
	if err != nil || len(done.Notes) != 1 || !strings.Contains(done.Notes[0].Text, " (two nodes — ") {
		t.Fatalf("revoke on B: %+v %v", done, err)
	}
	refused(t, ctx, a.srv.c2s, created.Token, "pia")
	apiDecode(t, ctx, http.StatusOK, &shown, "GET", a.srv.http, path, key, "", "")
	if shown.Status != "revoked" {
		t.Fatalf("after revocation on B, A shows %+v", shown)
	}
}

package main_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/httpapi"
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

	onA, onB := apiClient(t, a.srv.http, key), apiClient(t, b.srv.http, key)
	two, three := 2, 3
	created, err := onA.Create(ctx, httpapi.CreateParams{MaxUses: &two, Note: "two nodes"})
	if err != nil {
		t.Fatal(err)
	}
	if list, err := onB.List(ctx, httpapi.ListParams{}); err != nil || len(list.Invites) != 1 || list.Invites[0].ID != created.ID {
		t.Fatalf("B's list: %+v %v", list, err)
	}
	if patched, err := onB.Update(ctx, created.ID, httpapi.Patch{MaxUses: &three}); err != nil || patched.MaxUses != 3 {
		t.Fatalf("patched on B: %+v %v", patched, err)
	}
	mustRegister(t, ctx, a.srv.c2s, created.Token, "nia")
	mustRegister(t, ctx, b.srv.c2s, created.Token, "oto")
	shown, err := onA.Show(ctx, created.ID)
	if err != nil || shown.Uses != 2 || shown.Status != "pending" || !slices.Equal(jids(shown), []string{"nia@localhost", "oto@localhost"}) {
		t.Fatalf("shown on A: %+v %v", shown, err)
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
	if shown, err = onA.Show(ctx, created.ID); err != nil || shown.Status != "revoked" {
		t.Fatalf("after revocation on B, A shows %+v %v", shown, err)
	}
}

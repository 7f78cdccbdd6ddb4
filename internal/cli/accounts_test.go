package cli_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/cli"
	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/internal/store/storetest"
)

// accountStore makes the store of dataDir as a server that can set its accounts'
// states records it, and builds a tree of depth 8 in it through real redemptions.
func accountStore(t *testing.T, dataDir string, states bool) (*core.Service, *storetest.TreeNode) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dataDir, config.StoreFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.RecordHosts(ctx, []core.RecordedHost{{Domain: "example.com", AccountStates: states}}); err != nil {
		t.Fatal(err)
	}
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com", AccountStates: states}}})
	if err != nil {
		t.Fatal(err)
	}
	invite := func(ctx context.Context, jid string, max int) (core.Invite, error) {
		return svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Kind: core.KindContact, Inviter: strings.Split(jid, "@")[0],
			AllowRegister: true, MaxUses: &max, Actor: core.Actor{Kind: core.ActorJID, ID: jid}})
	}
	register := func(ctx context.Context, inv core.Invite, name string) (string, error) {
		_, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: name})
		return name + "@example.com", err
	}
	return svc, storetest.BuildTree(ctx, t, "root@example.com", 4, 2, invite, register)
}

// TestTreeCommand: "tree" prints the tree built through redemptions, whole, as JSON
// and drawn; a node below is its own tree; --depth bounds it; invited-by climbs.
func TestTreeCommand(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	dir := t.TempDir()
	_, built := accountStore(t, dir, false)
	code, out, errOut := run(t, dir, "tree", "example.com", "root@example.com", "--json")
	if code != 0 {
		t.Fatalf("tree --json: %d %s", code, errOut)
	}
	var tree httpapi.Tree
	if err := json.Unmarshal([]byte(out), &tree); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range tree.Nodes {
		got = append(got, strings.Repeat("  ", n.Depth)+n.ID)
	}
	if want := built.PreOrder(); !slices.Equal(got, want) {
		t.Fatalf("tree --json:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	code, out, _ = run(t, dir, "tree", "example.com", "root", "--depth", "2")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 1+2+4 || lines[0] != "account root@example.com (unknown)" ||
		!strings.HasPrefix(lines[1], "├── invite "+built.Children[0].ID+" (used, 2/2 uses, ") ||
		!strings.HasPrefix(lines[2], "│   ├── account "+built.Children[0].Children[0].ID+" (active, ") ||
		!strings.HasPrefix(lines[3], "│   └── account ") || !strings.HasPrefix(lines[4], "└── invite ") ||
		!strings.HasPrefix(lines[6], "    └── account ") {
		t.Errorf("tree --depth 2 (%d):\n%s", code, out)
	}
	for _, l := range lines {
		if n := len([]rune(l)); n > 80 {
			t.Errorf("a line of %d characters: %q", n, l)
		}
	}
	inv := built.Children[1].ID
	code, out, _ = run(t, dir, "tree", "example.com", inv)
	if code != 0 || !strings.HasPrefix(out, "invite "+inv+" (used, 2/2 uses") || strings.Count(out, "\n") != 1+len(built.Children[1].PreOrder()) {
		t.Errorf("tree of an invite (%d):\n%s", code, out)
	}
	leaf := built.Children[0].Children[0].Children[0].Children[1]
	code, out, _ = run(t, dir, "invited-by", "example.com", leaf.ID)
	want := "account " + leaf.ID + " (active, "
	if code != 0 || !strings.HasPrefix(out, want) || !strings.Contains(out, "\n  invite "+built.Children[0].Children[0].Children[0].ID+" (used") ||
		!strings.HasSuffix(out, "unknown (unknown: made before the plugin kept track of inviters, or without an invite)\n") {
		t.Errorf("invited-by (%d):\n%s", code, out)
	}
	for i, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"tree", "example.com", "nobody"}, 1, "Error: account not found\n"},
		{[]string{"tree", "example.com", "AAAAAAAAAAAA"}, 1, "Error: no such account or invite\n"},
		{[]string{"tree", "example.com", "key:AAAAAAAAAAAA"}, 1, "Error: key not found\n"},
		{[]string{"tree", "example.com", "root", "--depth", "0"}, 1, "Error: --depth: must be a whole number from 1 to 64\n"},
		{[]string{"tree", "example.com"}, 2, "tree: want HOST JID|INVITE-ID|key:ID"},
		{[]string{"tree", "example.com", "root", "--subtree"}, 2, "tree takes no --subtree"},
		{[]string{"tree", "nowhere.example", "root"}, 1, "Error: please supply a valid host\n"},
	} {
		code, _, errOut := run(t, dir, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.err) {
			t.Errorf("%d: %v = %d %q; want %d with %q", i, tc.args, code, errOut, tc.code, tc.err)
		}
	}
}

// TestBulkCommands: each bulk command's dry run changes nothing and lists exactly what
// the command then changes, audited; a server that cannot disable accounts refuses;
// pending, approve and reject work the approval queue.
func TestBulkCommands(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	dir := t.TempDir()
	svc, built := accountStore(t, dir, true)
	root := built.Children[0].Children[0].ID // an account with a subtree
	for i, args := range [][]string{
		{"disable", "example.com", root, "--subtree"},
		{"enable", "example.com", root, "--subtree"},
		{"revoke-invites", "example.com", "root", "--subtree"},
	} {
		tree := func() string {
			_, out, _ := run(t, dir, "tree", "example.com", "root")
			return out
		}
		before := tree()
		code, dry, errOut := run(t, dir, append(args, "--dry-run")...)
		if code != 0 || errOut != "" || tree() != before {
			t.Fatalf("%d: dry run %v: %d %q, or the tree changed", i, args, code, errOut)
		}
		code, real, errOut := run(t, dir, args...)
		if code != 0 {
			t.Fatalf("%d: %v: %d %s", i, args, code, errOut)
		}
		dryLines := strings.Split(strings.ReplaceAll(dry, "would be ", ""), "\n")
		realLines := strings.Split(real, "\n")
		if len(dryLines) != len(realLines) || !slices.Equal(dryLines[:len(dryLines)-2], realLines[:len(realLines)-2]) {
			t.Errorf("%d: dry run:\n%s\nreal run:\n%s", i, dry, real)
		}
		if n := strings.Count(errOut, " msg=audit "); n != len(realLines)-2 {
			t.Errorf("%d: %d audit records for %d changes:\n%s", i, n, len(realLines)-2, errOut)
		}
	}
	if _, out, _ := run(t, dir, "tree", "example.com", root); strings.Contains(out, "(disabled") {
		t.Errorf("enable left accounts below %s disabled:\n%s", root, out)
	}
	// The approval queue.
	inv, err := svc.CreateInvite(t.Context(), core.InviteSpec{Host: "example.com", Approval: true, MaxUses: func(n int) *int { return &n }(2),
		Actor: core.Actor{Kind: core.ActorCLI}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"anna", "bert"} {
		if _, err := svc.Redeem(t.Context(), core.Redemption{Host: "example.com", Token: inv.Token, Username: name}); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ := run(t, dir, "pending", "example.com")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.HasPrefix(out, "anna@example.com ") || !strings.Contains(out, "  cli ") {
		t.Fatalf("pending (%d):\n%s", code, out)
	}
	if code, out, errOut := run(t, dir, "approve", "example.com", "anna"); code != 0 || !strings.HasPrefix(out, "anna@example.com approved") ||
		!strings.Contains(errOut, "event=account.approved") {
		t.Errorf("approve: %d %q %q", code, out, errOut)
	}
	if code, out, _ := run(t, dir, "reject", "example.com", "bert@example.com"); code != 0 || !strings.HasPrefix(out, "bert@example.com rejected") {
		t.Errorf("reject: %d %q", code, out)
	}
	if code, _, errOut := run(t, dir, "approve", "example.com", "anna"); code != 1 || errOut != "Error: JID: anna@example.com is not waiting for approval (it is active)\n" {
		t.Errorf("approve twice: %d %q", code, errOut)
	}
	if code, out, _ := run(t, dir, "pending", "example.com", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("pending after the decisions: %d %q", code, out)
	}
	// A server that cannot disable accounts.
	other := t.TempDir()
	accountStore(t, other, false)
	if code, _, errOut := run(t, other, "disable", "example.com", "root", "--dry-run"); code != 1 || errOut != "Error: this server cannot disable accounts\n" {
		t.Errorf("disable there: %d %q", code, errOut)
	}
}

// TestDrawTree: the box-drawing of a tree with a purged level and an uneven end.
func TestDrawTree(t *testing.T) {
	at := time.Date(2031, 3, 14, 15, 9, 26, 0, time.UTC)
	items := []core.TreeItem{
		{Kind: core.NodeInvite, ID: "AAAAAAAAAAA1", Depth: 1, Status: "used", Date: at, Invite: &core.Invite{Uses: 1, MaxUses: 1}},
		{Kind: core.NodeAccount, ID: "a@example.com", Depth: 2, Status: "active", Date: at},
		{Kind: core.NodeInvite, ID: "AAAAAAAAAAA2", Depth: 3, Status: "pending", Date: at, Invite: &core.Invite{MaxUses: 0}},
		{Kind: core.NodeInvite, ID: "AAAAAAAAAAA3", Depth: 1, Status: "purged", Date: at},
		{Kind: core.NodeAccount, ID: "b@example.com", Depth: 2, Status: "disabled"},
		{Kind: core.NodeAccount, ID: "c@example.com", Depth: 2, Status: "active"},
	}
	got := cli.DrawTree(core.TreeItem{Kind: core.NodeKey, ID: "KKKKKKKKKKKK", Name: "portal", Status: "active"}, items)
	want := `key portal (KKKKKKKKKKKK) (active)
├── invite AAAAAAAAAAA1 (used, 1/1 uses, 2031-03-14)
│   └── account a@example.com (active, 2031-03-14)
│       └── invite AAAAAAAAAAA2 (pending, 0/unlimited uses, 2031-03-14)
└── invite AAAAAAAAAAA3 (purged, 2031-03-14)
    ├── account b@example.com (disabled)
    └── account c@example.com (active)
`
	if got != want {
		t.Errorf("DrawTree:\n%s\nwant:\n%s", got, want)
	}
}

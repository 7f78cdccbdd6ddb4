package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
	"github.com/xmpp-invites/invites/internal/store/storetest"
)

// Who invited whom (issue 24) through xmppd: invites made over HTTP, with the ad-hoc
// commands and by users, redeemed in band, on the web page and through the
// registration form's invitation field, read back and acted on over HTTP, the command
// line and the ad-hoc commands.

// Nodes of the account commands (internal/commands).
const (
	nodeTree     = "urn:xmpp-invites:accounts#tree"
	nodeApproval = "urn:xmpp-invites:accounts#approve"
	nodeBulk     = "urn:xmpp-invites:accounts#actions"
)

// community is an xmppd whose accounts invite one another: users' invites may make
// accounts; admin@localhost is an administrator.
type community struct {
	*pageSite
	python  string
	manager string    // a --manage key of localhost
	admin   commander // admin@localhost's session

	mu    sync.Mutex
	users map[string]commander // the sessions of the accounts that invited, by name
}

// startCommunity starts a community on the store dsn ("" for SQLite).
func startCommunity(t *testing.T, ctx context.Context, bin, python, dsn string) *community {
	t.Helper()
	s := startPageSite(t, bin, pageSiteOptions{dsn: dsn, config: "allow_user_invites = true",
		page: `failed_attempt_rate = "off"`, users: []string{"admin admin secret"}, args: []string{"-admin", "admin@localhost"}})
	c := &community{pageSite: s, python: python, users: map[string]commander{}}
	var err error
	if c.manager, err = s.cli.createKey(ctx, "moderators", "--manage"); err != nil {
		t.Fatal(err)
	}
	sess, err := testclient.Login(ctx, s.srv.c2s, "admin", "admin secret", sasl.ScramSha256)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sess.Close() })
	c.admin = commander{sess}
	return c
}

// way is how an invite is redeemed.
type way string

const (
	inBand        way = "in band"              // XEP-0445 pre-auth, then XEP-0077 (the test client)
	webPage       way = "web page"             // the page's registration form, posted over HTTP
	formField     way = "the invitation field" // XEP-0077's data form with the invitation field (slixmpp)
	inBandSlixmpp way = "in band with slixmpp" // XEP-0445 pre-auth, then XEP-0077 (slixmpp)
)

// redeem registers name (password pw(name)) with token the way w, and waits until the
// plugin knows the account, active.
func (c *community) redeem(t *testing.T, ctx context.Context, w way, token, name string) {
	t.Helper()
	switch w {
	case inBand:
		if el, err := registerWithToken(ctx, c.srv.c2s, token, name, pw(name)); err != nil || el.Attr("type") != "result" {
			t.Fatalf("registering %s in band: %v %v", name, el, err)
		}
	case webPage:
		r := c.register(t, ctx, token, c.form(t, ctx, token), name, pw(name))
		if r.code != http.StatusOK || !strings.Contains(r.body, name+"@localhost") {
			t.Fatalf("registering %s on the web page: %d\n%s", name, r.code, r.body)
		}
	case formField:
		var out struct{ JID string }
		interop(t, c.python, c.srv.c2s, &out, "form-invitation", name, pw(name), token)
		if !strings.HasPrefix(out.JID, name+"@localhost/") {
			t.Fatalf("registering %s with the invitation field: logged in as %q", name, out.JID)
		}
	case inBandSlixmpp:
		var out struct{ JID string }
		interop(t, c.python, c.srv.c2s, &out, "register", token, name, pw(name))
		if !strings.HasPrefix(out.JID, name+"@localhost/") {
			t.Fatalf("registering %s with slixmpp: logged in as %q", name, out.JID)
		}
	default:
		t.Fatalf("no way %q", w)
	}
	c.waitAccount(t, ctx, name, "active")
}

// waitAccount waits until the plugin knows name@localhost in state (over HTTP).
func (c *community) waitAccount(t *testing.T, ctx context.Context, name, state string) {
	t.Helper()
	var a httpapi.Account
	if !eventually(10*time.Second, func() bool {
		a = httpapi.Account{}
		return c.api(t, ctx, http.MethodGet, "/invites_api/accounts/"+name+"@localhost", c.manager, "", &a) == http.StatusOK && a.State == state
	}) {
		t.Fatalf("the plugin does not know %s@localhost %s: %+v", name, state, a)
	}
}

// session returns a logged-in session of the account name, made on first use.
func (c *community) session(t *testing.T, ctx context.Context, name string) commander {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.users[name]; ok {
		return s
	}
	sess, err := testclient.Login(ctx, c.srv.c2s, name, pw(name), sasl.ScramSha256)
	if err != nil {
		t.Fatalf("%s logging in: %v", name, err)
	}
	t.Cleanup(func() { _ = sess.Close() })
	c.users[name] = commander{sess}
	return c.users[name]
}

// userInvite runs "Invite a contact" as the account name and returns the invite's token.
func (c *community) userInvite(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	done, err := c.session(t, ctx, name).execute(ctx, nodeInvite)
	token := preauthToken(done.Form.Value("uri"))
	if err != nil || done.Status != adhoc.StatusCompleted || token == "" || !strings.HasSuffix(done.Form.Value("uri"), ";ibr=y") {
		t.Fatalf("%s's invite: %+v %v", name, done, err)
	}
	return token
}

// adminInvite runs "Create account invite" as the administrator and returns the token.
func (c *community) adminInvite(t *testing.T, ctx context.Context, fields map[string][]string) string {
	t.Helper()
	first, err := c.admin.execute(ctx, nodeCreateAccount)
	if err != nil {
		t.Fatalf("create-account: %v", err)
	}
	done, err := c.admin.complete(ctx, first, fields)
	token := preauthToken(done.Form.Value("uri"))
	if err != nil || done.Status != adhoc.StatusCompleted || token == "" {
		t.Fatalf("create-account: %+v %v", done, err)
	}
	return token
}

// treeLine writes a node of a tree as the readers are compared: indented by its depth,
// its kind, ID and status.
func treeLine(depth int, kind, id, status string) string {
	return strings.Repeat("  ", depth) + kind + " " + id + " (" + status + ")"
}

// withoutStatus drops the statuses of tree lines.
func withoutStatus(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i], _, _ = strings.Cut(l, " (")
	}
	return out
}

// builtLines returns the lines of the tree built below root, depths counted from
// root, as treeLine writes them without statuses.
func builtLines(root *storetest.TreeNode) []string {
	var out []string
	var walk func(*storetest.TreeNode)
	walk = func(n *storetest.TreeNode) {
		for _, c := range n.Children {
			out = append(out, strings.Repeat("  ", c.Depth-root.Depth)+string(c.Kind)+" "+c.ID)
			walk(c)
		}
	}
	walk(root)
	return out
}

// httpTree reads the tree below root (accounts/JID, invites/ID or keys/ID) over HTTP, in
// pages of three nodes.
func (c *community) httpTree(t *testing.T, ctx context.Context, root string) []string {
	t.Helper()
	var out []string
	cursor := ""
	for range 100 {
		var tree httpapi.Tree
		if code := c.api(t, ctx, http.MethodGet, "/invites_api/"+root+"/tree?limit=3&cursor="+url.QueryEscape(cursor), c.manager, "", &tree); code != http.StatusOK {
			t.Fatalf("GET %s/tree: %d", root, code)
		}
		for _, n := range tree.Nodes {
			out = append(out, treeLine(n.Depth, n.Kind, n.ID, n.Status))
		}
		if cursor = tree.NextCursor; cursor == "" {
			return out
		}
	}
	t.Fatalf("the tree of %s never ends", root)
	return nil
}

// cliTree reads the tree below root (a JID, an invite ID or key:ID) with
// "invites-plugin tree --json".
func (c *community) cliTree(t *testing.T, ctx context.Context, root string) []string {
	t.Helper()
	out, err := c.cli.run(ctx, "tree", "localhost", root, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var tree httpapi.Tree
	if err := json.Unmarshal([]byte(out), &tree); err != nil {
		t.Fatalf("tree --json: %v\n%s", err, out)
	}
	var lines []string
	for _, n := range tree.Nodes {
		lines = append(lines, treeLine(n.Depth, n.Kind, n.ID, n.Status))
	}
	return lines
}

// adhocTree reads the tree below root with the administrator's "Show who invited whom",
// page by page.
func (c *community) adhocTree(t *testing.T, ctx context.Context, root string) []string {
	t.Helper()
	first, err := c.admin.execute(ctx, nodeTree)
	if err != nil {
		t.Fatalf("%s: %v", nodeTree, err)
	}
	resp, err := c.admin.complete(ctx, first, map[string][]string{"root": {root}})
	var out []string
	for range 100 {
		if err != nil || resp.Form == nil {
			t.Fatalf("%s of %s: %+v %v", nodeTree, root, resp, err)
		}
		column := func(v string) []string { f, _ := resp.Form.Field(v); return f.Values }
		kinds, ids, depths, statuses := column("kind"), column("id"), column("depth"), column("status")
		if len(ids) != len(kinds) || len(ids) != len(depths) || len(ids) != len(statuses) {
			t.Fatalf("%s: the columns differ in length: %+v", nodeTree, resp.Form)
		}
		for i, id := range ids {
			if d, _ := strconv.Atoi(depths[i]); d > 0 {
				out = append(out, treeLine(d, kinds[i], id, statuses[i]))
			}
		}
		if resp.Status != adhoc.StatusExecuting {
			return out
		}
		resp, err = c.admin.run(ctx, adhoc.Request{Node: nodeTree, SessionID: resp.SessionID, Action: adhoc.ActionNext})
	}
	t.Fatalf("the tree of %s never ends", root)
	return nil
}

// checkTree checks that HTTP, the command line and the ad-hoc command read the tree
// below a root as it was built; httpRoot, cliRoot and adhocRoot name that root for
// each.
func (c *community) checkTree(t *testing.T, ctx context.Context, want *storetest.TreeNode, httpRoot, cliRoot, adhocRoot string) {
	t.Helper()
	byHTTP := c.httpTree(t, ctx, httpRoot)
	if got, want := withoutStatus(byHTTP), builtLines(want); !slices.Equal(got, want) {
		t.Errorf("HTTP reads the tree of %s:\n%s\nwant:\n%s", httpRoot, strings.Join(byHTTP, "\n"), strings.Join(want, "\n"))
	}
	for name, got := range map[string][]string{"the command line": c.cliTree(t, ctx, cliRoot), "the ad-hoc command": c.adhocTree(t, ctx, adhocRoot)} {
		if !slices.Equal(got, byHTTP) {
			t.Errorf("%s reads the tree of %s:\n%s\nHTTP reads:\n%s", name, cliRoot, strings.Join(got, "\n"), strings.Join(byHTTP, "\n"))
		}
	}
}

// TestTreeThroughXmppd (issue 24), on both stores: two trees of depth 8 and 4 built
// through real redemptions — invites made over HTTP with a key, with the
// administrator's "Create account invite" and with users' "Invite a contact";
// redeemed in band (the test client and slixmpp), on the web page and through the
// registration form's invitation field (slixmpp) — read back the same over HTTP (in
// pages), with the command line and with the ad-hoc command; the chain of inviters of
// the deepest account, over HTTP and the command line, is the way up.
func TestTreeThroughXmppd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries and Python")
	}
	t.Parallel()
	python := slixmppPython(t)
	bin := binaries(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			dsn := ""
			if backend == "postgres" {
				_, dsn = pgtest.Schema(t)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			c := startCommunity(t, ctx, bin, python, dsn)

			// Below the key: its invite over HTTP, used three ways; then users' invites,
			// four generations down.
			node := func(parent *storetest.TreeNode, kind core.NodeKind, id string) *storetest.TreeNode {
				n := &storetest.TreeNode{Kind: kind, ID: id, Depth: parent.Depth + 1}
				parent.Children = append(parent.Children, n)
				return n
			}
			account := func(parent *storetest.TreeNode, w way, token, name string) *storetest.TreeNode {
				c.redeem(t, ctx, w, token, name)
				return node(parent, core.NodeAccount, name+"@localhost")
			}
			key := &storetest.TreeNode{Kind: core.NodeKey, ID: keyID(c.key)}
			three := 3
			_, token := c.invite(t, ctx, httpapi.CreateParams{MaxUses: &three})
			i1 := node(key, core.NodeInvite, core.TokenID(token))
			a1 := account(i1, inBand, token, "ada")
			account(i1, webPage, token, "bea")
			account(i1, formField, token, "cal")
			parent := a1
			for i, w := range []way{webPage, inBand, formField, inBandSlixmpp} {
				token := c.userInvite(t, ctx, strings.TrimSuffix(parent.ID, "@localhost"))
				parent = account(node(parent, core.NodeInvite, core.TokenID(token)), w, token, fmt.Sprintf("gen%d", i+2))
			}
			deepest := parent

			// Below the administrator: create-account, then a user's invite.
			admin := &storetest.TreeNode{Kind: core.NodeAccount, ID: "admin@localhost"}
			token = c.adminInvite(t, ctx, nil)
			b1 := account(node(admin, core.NodeInvite, core.TokenID(token)), inBandSlixmpp, token, "bob")
			token = c.userInvite(t, ctx, "bob")
			account(node(b1, core.NodeInvite, core.TokenID(token)), webPage, token, "bobby")

			if d := deepest.Depth; d < 8 {
				t.Fatalf("the deepest account is at depth %d", d)
			}
			c.checkTree(t, ctx, key, "keys/"+key.ID, "key:"+key.ID, "key:"+key.ID)
			c.checkTree(t, ctx, admin, "accounts/admin@localhost", "admin@localhost", "admin@localhost")
			c.checkTree(t, ctx, a1, "accounts/ada@localhost", "ada@localhost", "ada")

			// The way up from the deepest account.
			wantChain := chainOf(key, deepest.ID)
			var chain httpapi.Chain
			if code := c.api(t, ctx, http.MethodGet, "/invites_api/accounts/"+deepest.ID+"/invited-by", c.manager, "", &chain); code != http.StatusOK {
				t.Fatalf("invited-by: %d", code)
			}
			out, err := c.cli.run(ctx, "invited-by", "localhost", deepest.ID, "--json")
			if err != nil {
				t.Fatal(err)
			}
			var cliChain httpapi.Chain
			if err := json.Unmarshal([]byte(out), &cliChain); err != nil {
				t.Fatalf("invited-by --json: %v\n%s", err, out)
			}
			for name, got := range map[string]httpapi.Chain{"HTTP": chain, "the command line": cliChain} {
				var ids []string
				for _, n := range got.InvitedBy {
					ids = append(ids, n.Kind+" "+n.ID)
				}
				if !slices.Equal(ids, wantChain) {
					t.Errorf("%s: %s was invited by %q, want %q", name, deepest.ID, ids, wantChain)
				}
			}
		})
	}
}

// chainOf returns the way up from the node id to root, id first and root last, each
// node as "KIND ID".
func chainOf(root *storetest.TreeNode, id string) []string {
	var path []*storetest.TreeNode
	var find func(n *storetest.TreeNode) bool
	find = func(n *storetest.TreeNode) bool {
		path = append(path, n)
		if n.ID == id {
			return true
		}
		for _, c := range n.Children {
			if find(c) {
				return true
			}
		}
		path = path[:len(path)-1]
		return false
	}
	find(root)
	var out []string
	for _, n := range slices.Backward(path) {
		out = append(out, string(n.Kind)+" "+n.ID)
	}
	return out
}

// openSession logs name in over a raw stream and returns it, for the test to see the
// stream end; the stream's deadline is a minute away.
func (c *community) openSession(t *testing.T, ctx context.Context, name string) *testclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	t.Cleanup(cancel)
	raw, err := testclient.Dial(ctx, c.srv.c2s, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	if _, err := raw.Plain(name, pw(name), "desk"); err != nil {
		t.Fatalf("%s logging in: %v", name, err)
	}
	return raw
}

// streamEnd reads a raw session until its stream error, and returns the error's text.
func streamEnd(raw *testclient.Client) (string, error) {
	for range 100 {
		el, err := raw.Next()
		if err != nil {
			return "", err
		}
		if el.XMLName.Local == "error" {
			return el.Inner, nil
		}
	}
	return "", fmt.Errorf("no stream error in 100 elements")
}

// bulkLines writes what a bulk result lists, "invite ID" or "account JID" each.
func bulkLines(r httpapi.BulkResult) []string {
	var out []string
	for _, inv := range r.Invites {
		out = append(out, "invite "+inv.ID)
	}
	for _, a := range r.Accounts {
		out = append(out, "account "+a.JID)
	}
	return out
}

// adhocBulk runs the administrator's "Revoke invites or disable accounts of a tree"
// on root with action and subtree: it returns the dry run's lines (the confirmation
// stage's) and the notes of completing it with confirm.
func (c *community) adhocBulk(t *testing.T, ctx context.Context, root, action string, confirm bool) (dry []string, notes string) {
	t.Helper()
	first, err := c.admin.execute(ctx, nodeBulk)
	if err != nil {
		t.Fatalf("%s: %v", nodeBulk, err)
	}
	second, err := c.admin.run(ctx, adhoc.Request{Node: nodeBulk, SessionID: first.SessionID, Action: adhoc.ActionNext,
		Form: submit(map[string][]string{"root": {root}, "action": {action}, "subtree": {"true"}})})
	if err != nil || second.Status != adhoc.StatusExecuting || second.Form == nil {
		t.Fatalf("%s's dry run: %+v %v", nodeBulk, second, err)
	}
	f, _ := second.Form.Field("changes")
	done, err := c.admin.complete(ctx, second, map[string][]string{"confirm": {strconv.FormatBool(confirm)}})
	if err != nil || done.Status != adhoc.StatusCompleted {
		t.Fatalf("%s: %+v %v", nodeBulk, done, err)
	}
	var n []string
	for _, x := range done.Notes {
		n = append(n, x.Text)
	}
	return f.Values, strings.Join(n, " | ")
}

// TestBulkThroughXmppd (issue 24), on both stores: disabling the accounts below an
// invite. The dry runs over HTTP, the command line and the ad-hoc command list the
// same accounts and change nothing; the real run (the command line, which the running
// plugin carries out through the server) changes exactly those: their sessions end,
// their logins are refused saying why, an account outside the tree is untouched. The
// disabled inviter's pending invite is refused in band, on its page and by the web
// registration form shown before. Re-enabled with the ad-hoc command, they log in
// again and the invite works. Then revoking the pending invites below an account:
// the dry run lists exactly what the real run revokes.
func TestBulkThroughXmppd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	t.Parallel()
	bin := binaries(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			dsn := ""
			if backend == "postgres" {
				_, dsn = pgtest.Schema(t)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			c := startCommunity(t, ctx, bin, "", dsn)

			// The key's invite makes ada and bea; ada's invite makes cal; ada and cal
			// have an invite each not used yet; zed is the administrator's, outside.
			two := 2
			_, token := c.invite(t, ctx, httpapi.CreateParams{MaxUses: &two})
			i1 := core.TokenID(token)
			c.redeem(t, ctx, inBand, token, "ada")
			c.redeem(t, ctx, webPage, token, "bea")
			token = c.userInvite(t, ctx, "ada")
			c.redeem(t, ctx, inBand, token, "cal")
			adaOpen := c.userInvite(t, ctx, "ada")
			calOpen := c.userInvite(t, ctx, "cal")
			token = c.adminInvite(t, ctx, nil)
			c.redeem(t, ctx, inBand, token, "zed")
			// In the tree's order: each account before the accounts below it.
			below := []string{"account ada@localhost", "account cal@localhost", "account bea@localhost"}
			// The web registration form of ada's invite, shown while she may invite.
			csrf := c.form(t, ctx, adaOpen)
			ada, cal := c.openSession(t, ctx, "ada"), c.openSession(t, ctx, "cal")

			// Three dry runs, the same; nothing changes.
			var httpDry httpapi.BulkResult
			if code := c.api(t, ctx, http.MethodPost, "/invites_api/invites/"+i1+"/actions", c.manager,
				`{"action": "disable-accounts", "subtree": true, "dry_run": true}`, &httpDry); code != http.StatusOK || !httpDry.DryRun {
				t.Fatalf("the dry run over HTTP: %d %+v", code, httpDry)
			}
			var cliDry httpapi.BulkResult
			if out, err := c.cli.run(ctx, "disable", "localhost", i1, "--subtree", "--dry-run", "--json"); err != nil || json.Unmarshal([]byte(out), &cliDry) != nil {
				t.Fatalf("the dry run of the command line: %v\n%s", err, out)
			}
			adhocDry, notes := c.adhocBulk(t, ctx, i1, "disable-accounts", false)
			if notes != "Nothing changed." {
				t.Errorf("the ad-hoc command unconfirmed: %q", notes)
			}
			if !slices.Equal(bulkLines(httpDry), below) || !slices.Equal(bulkLines(cliDry), below) || !slices.Equal(adhocDry, below) {
				t.Fatalf("the dry runs list\nHTTP: %q\nthe command line: %q\nthe ad-hoc command: %q\nwant %q",
					bulkLines(httpDry), bulkLines(cliDry), adhocDry, below)
			}
			if _, err := ada.IQ(`<iq type='get' id='ping1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`); err != nil {
				t.Fatalf("ada's session after the dry runs: %v", err)
			}
			for _, name := range []string{"ada", "bea", "cal"} {
				if err := c.login(ctx, name, pw(name)); err != nil {
					t.Fatalf("%s after the dry runs: %v", name, err)
				}
			}

			// The real run, from the command line: the running plugin has the server
			// disable exactly those.
			var done httpapi.BulkResult
			if out, err := c.cli.run(ctx, "disable", "localhost", i1, "--subtree", "--json"); err != nil || json.Unmarshal([]byte(out), &done) != nil || done.DryRun {
				t.Fatalf("disable: %v\n%s", err, out)
			}
			if !slices.Equal(bulkLines(done), below) {
				t.Errorf("disable changed %q, the dry run said %q", bulkLines(done), below)
			}
			for name, raw := range map[string]*testclient.Client{"ada": ada, "cal": cal} {
				if text, err := streamEnd(raw); err != nil || !strings.Contains(text, "This account was disabled by an administrator.") {
					t.Errorf("%s's session: %q %v", name, text, err)
				}
			}
			for _, name := range []string{"ada", "bea", "cal"} {
				c.waitAccount(t, ctx, name, "disabled")
				err := c.login(ctx, name, pw(name))
				if err == nil || !strings.Contains(err.Error(), "<account-disabled/>") || !strings.Contains(err.Error(), "This account is disabled by an administrator.") {
					t.Errorf("%s's login while disabled: %v", name, err)
				}
			}
			if err := c.login(ctx, "zed", pw("zed")); err != nil {
				t.Errorf("zed, outside the tree: %v", err)
			}

			// Ada's invite is refused while she is disabled: in band, on its page, and
			// by the form shown before.
			if el, err := c.preauth(ctx, adaOpen); err != nil || el.Attr("type") != "error" || !strings.Contains(el.Inner, "<item-not-found") {
				t.Errorf("pre-auth with the disabled inviter's invite: %v %v", el, err)
			}
			const refusal = "The person who invited you can no longer invite people here"
			if r := c.get(t, ctx, http.MethodGet, "/invite?"+adaOpen); r.code != http.StatusForbidden || !strings.Contains(r.body, refusal) {
				t.Errorf("the disabled inviter's invite page: %d\n%s", r.code, r.body)
			}
			if r := c.register(t, ctx, adaOpen, csrf, "dan", pw("dan")); r.code == http.StatusOK || !strings.Contains(r.body, refusal) {
				t.Errorf("web registration with the disabled inviter's invite: %d\n%s", r.code, r.body)
			}
			if got := c.exists(t, ctx, "dan"); len(got) != 0 {
				t.Errorf("a refused registration made %v", got)
			}

			// Enabled again with the ad-hoc command: they log in, and ada's invite works.
			dry, notes := c.adhocBulk(t, ctx, i1, "enable-accounts", true)
			if !slices.Equal(dry, below) || notes != "Enabled 3 disabled accounts." {
				t.Errorf("enabling: the dry run %q, then %q", dry, notes)
			}
			for _, name := range []string{"ada", "bea", "cal"} {
				if !eventually(20*time.Second, func() bool { return c.login(ctx, name, pw(name)) == nil }) {
					t.Errorf("%s after enabling: %v", name, c.login(ctx, name, pw(name)))
				}
			}
			c.redeem(t, ctx, webPage, adaOpen, "dan")

			// Revoking the pending invites below ada: only cal's is left pending.
			want := []string{"invite " + core.TokenID(calOpen)}
			var revDry, revoked httpapi.BulkResult
			for _, dry := range []bool{true, false} {
				out := &revoked
				if dry {
					out = &revDry
				}
				if code := c.api(t, ctx, http.MethodPost, "/invites_api/accounts/ada@localhost/actions", c.manager,
					fmt.Sprintf(`{"action": "revoke-invites", "subtree": true, "dry_run": %v}`, dry), out); code != http.StatusOK {
					t.Fatalf("revoke-invites (dry run %v): %d", dry, code)
				}
				if dry {
					if r := c.get(t, ctx, http.MethodGet, "/invite?"+calOpen); r.code != http.StatusOK {
						t.Errorf("cal's invite after the dry run: %d", r.code)
					}
				}
			}
			if !slices.Equal(bulkLines(revDry), want) || !slices.Equal(bulkLines(revoked), want) {
				t.Errorf("revoke-invites: the dry run %q, the real run %q, want %q", bulkLines(revDry), bulkLines(revoked), want)
			}
			if el, err := c.preauth(ctx, calOpen); err != nil || el.Attr("type") != "error" {
				t.Errorf("pre-auth with the revoked invite: %v %v", el, err)
			}
		})
	}
}

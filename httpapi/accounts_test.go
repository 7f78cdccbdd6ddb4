package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	validator "github.com/pb33f/libopenapi-validator"

	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
	"github.com/xmpp-invites/invites/internal/store/storetest"
)

// accountsFixture is a core over a real SQLite store whose host can hold accounts
// pending, with a managing key and an ordinary one, and a tree of depth 8 built
// through real redemptions.
type accountsFixture struct {
	svc          *core.Service
	h            *httpapi.Handler
	manage, user string // credentials
	built        *storetest.TreeNode
	t            *testing.T
	spec         validator.Validator
}

func newAccountsFixture(t *testing.T) *accountsFixture {
	f := newAccountsFixtureTB(t)
	f.t, f.spec = t, openAPI(t)
	return f
}

// newAccountsFixtureTB is newAccountsFixture without the OpenAPI checks of do, for
// benchmarks and fuzzing.
func newAccountsFixtureTB(t testing.TB) *accountsFixture {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{Durability: sqlite.DurabilityCrash})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: plainHost, AccountStates: true}}})
	if err != nil {
		t.Fatal(err)
	}
	f := &accountsFixture{svc: svc, h: httpapi.New(svc, httpapi.Options{FailedAuthCount: -1})}
	_, f.manage, err = svc.CreateKey(ctx, core.KeySpec{Host: plainHost, Manage: true})
	if err != nil {
		t.Fatal(err)
	}
	_, f.user, err = svc.CreateKey(ctx, core.KeySpec{Host: plainHost})
	if err != nil {
		t.Fatal(err)
	}
	invite := func(ctx context.Context, jid string, max int) (core.Invite, error) {
		return svc.CreateInvite(ctx, core.InviteSpec{Host: plainHost, Kind: core.KindContact, Inviter: strings.Split(jid, "@")[0],
			AllowRegister: true, MaxUses: &max, Actor: core.Actor{Kind: core.ActorJID, ID: jid}})
	}
	register := func(ctx context.Context, inv core.Invite, name string) (string, error) {
		_, err := svc.Redeem(ctx, core.Redemption{Host: plainHost, Token: inv.Token, Username: name})
		return name + "@" + plainHost, err
	}
	f.built = storetest.BuildTree(ctx, t, "root@example.com", 4, 2, invite, register)
	return f
}

// do sends a request with the managing key (or cred when given) and checks the
// answer against openapi.yaml; it returns the status and the body.
func (f *accountsFixture) do(method, target, body, cred string) (int, []byte) {
	f.t.Helper()
	if cred == "" {
		cred = f.manage
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequestWithContext(f.t.Context(), method, target, rd)
	req.Header.Set("Authorization", "Bearer "+cred)
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	resp := w.Result()
	data, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(data))
	vreq := httptest.NewRequestWithContext(f.t.Context(), method, req.URL.EscapedPath(), nil)
	vreq.Header = req.Header
	if ok, errs := f.spec.ValidateHttpResponse(vreq, resp); !ok {
		for _, e := range errs {
			f.t.Errorf("%s %s: openapi.yaml: %s: %s", method, target, e.Message, e.Reason)
		}
	}
	return resp.StatusCode, data
}

// readTree follows next_cursor through every page of path's tree.
func (f *accountsFixture) readTree(path string, limit int) []string {
	f.t.Helper()
	return storetest.TreeLines(f.t, func(cursor string) ([]core.TreeItem, string) {
		target := path + "?limit=" + strconv.Itoa(limit)
		if cursor != "" {
			target += "&cursor=" + url.QueryEscape(cursor)
		}
		status, body := f.do("GET", target, "", "")
		if status != http.StatusOK {
			f.t.Fatalf("GET %s = %d %s", target, status, body)
		}
		var tree httpapi.Tree
		if err := json.Unmarshal(body, &tree); err != nil {
			f.t.Fatal(err)
		}
		items := make([]core.TreeItem, len(tree.Nodes))
		for i, n := range tree.Nodes {
			items[i] = core.TreeItem{ID: n.ID, Depth: n.Depth}
		}
		return items, tree.NextCursor
	})
}

// TestAccountsTree: the tree of an account and of an invite, read page by page over
// HTTP, is the tree built through redemptions, in pre-order; the chain of inviters
// goes up to the root and its unknown inviter; a key without --manage sees none of it.
func TestAccountsTree(t *testing.T) {
	f := newAccountsFixture(t)
	want := f.built.PreOrder()
	for _, limit := range []int{1, 5, 200} {
		if got := f.readTree("/invites_api/accounts/root%40example.com/tree", limit); !slices.Equal(got, want) {
			t.Fatalf("tree in pages of %d:\n%s\nwant:\n%s", limit, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	inv := f.built.Children[1]
	var wantInv []string
	for _, l := range inv.PreOrder() {
		wantInv = append(wantInv, strings.TrimPrefix(l, "  "))
	}
	if got := f.readTree("/invites_api/invites/"+inv.ID+"/tree", 3); !slices.Equal(got, wantInv) {
		t.Errorf("tree of invite %s:\n%s\nwant:\n%s", inv.ID, strings.Join(got, "\n"), strings.Join(wantInv, "\n"))
	}
	leaf := inv.Children[0].Children[0].Children[1]
	status, body := f.do("GET", "/invites_api/accounts/"+url.PathEscape(leaf.ID)+"/invited-by", "", "")
	var chain httpapi.Chain
	if status != http.StatusOK || json.Unmarshal(body, &chain) != nil {
		t.Fatalf("invited-by = %d %s", status, body)
	}
	var kinds []string
	for _, n := range chain.InvitedBy {
		kinds = append(kinds, n.Kind+" "+n.ID)
	}
	wantChain := []string{"account " + leaf.ID, "invite " + inv.Children[0].Children[0].ID, "account " + inv.Children[0].ID,
		"invite " + inv.ID, "account root@example.com", "unknown "}
	if !slices.Equal(kinds, wantChain) {
		t.Errorf("invited-by:\n%s\nwant:\n%s", strings.Join(kinds, "\n"), strings.Join(wantChain, "\n"))
	}
	for i, tc := range []struct {
		method, target, body, cred string
		status                     int
		detail                     string
	}{
		{"GET", "/invites_api/accounts/root/tree", "", f.user, 404, "--manage"},
		{"GET", "/invites_api/accounts", "", f.user, 404, "--manage"},
		{"GET", "/invites_api/accounts/nobody/tree", "", "", 404, "no such account"},
		{"GET", "/invites_api/invites/AAAAAAAAAAAA/tree", "", "", 404, "no such invite"},
		{"GET", "/invites_api/accounts/root/tree?depth=0", "", "", 400, "depth: must be a whole number from 1 to 64"},
		{"GET", "/invites_api/accounts/root/tree?limit=201", "", "", 400, "limit: must be a whole number from 1 to 200"},
		{"GET", "/invites_api/accounts/root/tree?cursor=bogus", "", "", 400, "cursor: malformed"},
		{"GET", "/invites_api/accounts/bad%20name/tree", "", "", 400, "is not a valid username"},
		{"POST", "/invites_api/accounts/root/tree", "", "", 405, "use GET"},
		{"GET", "/invites_api/accounts/root/actions", "", "", 405, "use POST"},
		{"POST", "/invites_api/accounts/root/actions", `{"action": "explode"}`, "", 400, "unknown action"},
		{"POST", "/invites_api/accounts/root/actions", `not json`, "", 400, "the body must be a JSON object"},
		{"POST", "/invites_api/accounts/root/actions", `{"action": "revoke-invites", "extra": 1}`, "", 400, "the body must be a JSON object"},
		{"GET", "/invites_api/accounts?state=asleep", "", "", 400, "unknown state"},
		{"POST", "/invites_api/accounts/" + url.PathEscape(leaf.ID) + "/approve", "", "", 409, "is not waiting for approval (it is active)"},
		{"POST", "/invites_api/accounts/root/approve", "", "", 404, "no such account"},
	} {
		status, body := f.do(tc.method, tc.target, tc.body, tc.cred)
		if status != tc.status || !strings.Contains(string(body), tc.detail) {
			t.Errorf("%d: %s %s = %d %s; want %d with %q", i, tc.method, tc.target, status, body, tc.status, tc.detail)
		}
	}
}

// TestAccountsActions: each bulk action's dry run over HTTP changes nothing and lists
// exactly what the real run then changes; the approval queue lists a pending account,
// which approve lets in.
func TestAccountsActions(t *testing.T) {
	f := newAccountsFixture(t)
	for i, tc := range []struct {
		path, action string
		subtree      bool
		n            int
	}{
		{"/invites_api/accounts/root/actions", "disable-accounts", false, 4},
		{"/invites_api/accounts/root/actions", "disable-accounts", true, f.built.Count(core.NodeAccount) - 4},
		{"/invites_api/invites/" + f.built.Children[0].ID + "/actions", "enable-accounts", true, f.built.Children[0].Count(core.NodeAccount)},
	} {
		var results [2]httpapi.BulkResult
		for j, dry := range []bool{true, false} {
			body, _ := json.Marshal(httpapi.BulkRequest{Action: tc.action, Subtree: tc.subtree, DryRun: dry})
			status, data := f.do("POST", tc.path, string(body), "")
			if status != http.StatusOK || json.Unmarshal(data, &results[j]) != nil {
				t.Fatalf("%d: POST %s (dry run %v) = %d %s", i, tc.path, dry, status, data)
			}
		}
		jids := func(r httpapi.BulkResult) []string {
			var out []string
			for _, a := range r.Accounts {
				out = append(out, a.JID)
			}
			return out
		}
		if !results[0].DryRun || results[1].DryRun || !slices.Equal(jids(results[0]), jids(results[1])) || len(jids(results[1])) != tc.n {
			t.Errorf("%d: dry run %v, real run %v; want the same %d", i, jids(results[0]), jids(results[1]), tc.n)
		}
	}
	// A pending account, through an invite asking for approval.
	inv, err := f.svc.CreateInvite(t.Context(), core.InviteSpec{Host: plainHost, Approval: true, Actor: core.Actor{Kind: core.ActorCLI}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Redeem(t.Context(), core.Redemption{Host: plainHost, Token: inv.Token, Username: "waiting"}); err != nil {
		t.Fatal(err)
	}
	status, data := f.do("GET", "/invites_api/accounts?state=pending", "", "")
	var list httpapi.AccountList
	if status != http.StatusOK || json.Unmarshal(data, &list) != nil || len(list.Accounts) != 1 || list.Accounts[0].JID != "waiting@example.com" ||
		list.Accounts[0].ApprovalDeadline.IsZero() {
		t.Fatalf("pending accounts = %d %s", status, data)
	}
	status, data = f.do("POST", "/invites_api/accounts/waiting%40example.com/approve", "", "")
	var a httpapi.Account
	if status != http.StatusOK || json.Unmarshal(data, &a) != nil || a.State != "active" || a.InviteID != inv.ID || a.InvitedBy != "cli" {
		t.Fatalf("approve = %d %s", status, data)
	}
	if status, data := f.do("GET", "/invites_api/accounts/waiting", "", ""); status != http.StatusOK || !strings.Contains(string(data), `"state":"active"`) {
		t.Errorf("the account after its approval = %d %s", status, data)
	}
}

package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/cli"
	"github.com/xmpp-invites/invites/internal/commands"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/service"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
	"github.com/xmpp-invites/invites/internal/store/storetest"
	"github.com/xmpp-invites/invites/internal/testlog"
	"github.com/xmpp-invites/invites/plugin"
)

// accountHost plays the XMPP server for the plugin as xmppd does with contract version
// 3: Register reserves the name, redeems the invite (RedeemInvite) and makes the
// account; so does an in-band registration; and each account made is reported to the
// plugin (HostEvents, what Invites.Notify hands it), which confirms its hold.
type accountHost struct {
	s        *service.Service
	mu       sync.Mutex
	accounts map[string]bool
}

func (h *accountHost) AccountExists(_ context.Context, jid string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.accounts[jid], nil
}

func (h *accountHost) Register(ctx context.Context, reg plugin.Registration) (string, error) {
	return h.register(ctx, reg.Host, reg.Token, reg.Username)
}

// register makes the account username@host with the invite token, as in-band
// registration does.
func (h *accountHost) register(ctx context.Context, host, token, username string) (string, error) {
	jid := strings.ToLower(username) + "@" + host
	h.mu.Lock()
	taken := h.accounts[jid]
	h.mu.Unlock()
	if taken {
		return "", plugin.ErrAccountExists
	}
	if _, err := h.s.RedeemInvite(ctx, plugin.Redemption{Host: host, Token: token, Username: username}); err != nil {
		return "", err
	}
	h.mu.Lock()
	h.accounts[jid] = true
	h.mu.Unlock()
	err := h.s.HostEvents(ctx, []plugin.Event{{ID: "created " + jid, Type: plugin.EventAccountCreated, Host: host, JID: jid}})
	return jid, err
}

// accountsService starts a Service on the store store ("" for SQLite in dataDir) with
// the built-in page, user invites that may register, and a server that can set its
// accounts' states; it returns the service and its host.
func accountsService(t *testing.T, dataDir, store string) (*service.Service, *accountHost) {
	t.Helper()
	s := service.New(nil)
	h := &accountHost{s: s, accounts: map[string]bool{}}
	toml := "landing_page = \"builtin\"\nallow_user_invites = true\n[page]\nfailed_attempt_rate = \"off\"\n"
	if store != "" {
		toml = fmt.Sprintf("store = %q\n", store) + toml
	}
	if _, err := s.Configure(ctxT(t), plugin.Config{DataDir: dataDir, Domains: []string{"example.com"}, HTTPBaseURL: "https://chat.example.com",
		ConfigTOML: toml, Features: []plugin.Feature{plugin.FeatureAccountStates, plugin.FeatureEvents}}, h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s, h
}

// webRegister registers username with token on the web page and returns the success
// page.
func webRegister(t *testing.T, s *service.Service, token, username, note string) string {
	t.Helper()
	ctx := ctxT(t)
	form := url.Values{"t": {token}, "csrf": {formToken(t, s, ctx, token)}, "username": {username},
		"password": {"a long enough password"}, "password_confirm": {"a long enough password"}, "note": {note}}
	r := httptest.NewRequestWithContext(ctx, "POST", "/register", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := serve(t, s, r)
	if w.Code != http.StatusOK {
		t.Fatalf("web registration of %s = %d\n%s", username, w.Code, w.Body)
	}
	return w.Body.String()
}

// execute runs one ad-hoc request of requester with role.
func execute(t *testing.T, s *service.Service, requester string, role adhoc.Role, req adhoc.Request) adhoc.Response {
	t.Helper()
	req.Requester, req.Role = requester, role
	resp, err := s.Execute(ctxT(t), "example.com", req)
	if err != nil {
		t.Fatalf("%s: %v", req.Node, err)
	}
	return resp
}

// contactInvite makes a contact invite of the account jid through the ad-hoc command
// "Invite a contact" and returns its token.
func contactInvite(t *testing.T, s *service.Service, jid string) string {
	t.Helper()
	resp := execute(t, s, jid+"/phone", adhoc.RoleUser, adhoc.Request{Node: commands.NodeInvite})
	uri, _ := resp.Form.Field("uri")
	if len(uri.Values) != 1 {
		t.Fatalf("no invite: %+v", resp)
	}
	_, token, _ := strings.Cut(uri.Values[0], "preauth=")
	token, _, _ = strings.Cut(token, ";")
	return token
}

// TestTreeEveryWay (issue 24): on both stores, a tree of depth 6 built through real
// redemptions — invites made over HTTP (by an API key) and with the ad-hoc commands,
// used on the web page and in band — reads back the same through HTTP, the command
// line and the ad-hoc command.
func TestTreeEveryWay(t *testing.T) {
	t.Setenv("INVITES_STORE", "")
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dataDir, store := t.TempDir(), ""
			storeFlags := []string{"-data", dataDir}
			if backend == "postgres" {
				_, store = pgtest.Schema(t)
				storeFlags = []string{"-store", store}
			}
			s, h := accountsService(t, dataDir, store)
			clirun := func(args ...string) string {
				t.Helper()
				var out, errOut bytes.Buffer
				if code := cli.Run(ctxT(t), append(slices.Clone(storeFlags), args...), &out, &errOut); code != 0 {
					t.Fatalf("%v: %d %s", args, code, errOut.String())
				}
				return out.String()
			}
			cred := strings.TrimSpace(clirun("keys", "create", "example.com", "portal", "--manage"))
			keyID, _, _ := strings.Cut(cred, "/")
			built := &storetest.TreeNode{Kind: core.NodeKey, ID: keyID}
			// Generation 1: the key's invites, over HTTP, each used on the web page and
			// in band.
			n := 0
			register := func(parent *storetest.TreeNode, token string) *storetest.TreeNode {
				n++
				name := "m" + strconv.Itoa(n)
				if n%2 == 1 {
					webRegister(t, s, token, name, "")
				} else if _, err := h.register(ctxT(t), "example.com", token, name); err != nil {
					t.Fatal(err)
				}
				a := &storetest.TreeNode{Kind: core.NodeAccount, ID: name + "@example.com", Depth: parent.Depth + 1}
				parent.Children = append(parent.Children, a)
				return a
			}
			var level []*storetest.TreeNode
			for range 2 {
				r := httptest.NewRequestWithContext(ctxT(t), "POST", "/invites_api?max_uses=2", nil)
				r.Header.Set("Authorization", "Bearer "+cred)
				r.Header.Set("Accept", "application/json")
				w := serve(t, s, r)
				var inv httpapi.Invite
				if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &inv) != nil {
					t.Fatalf("POST /invites_api = %d %s", w.Code, w.Body)
				}
				in := &storetest.TreeNode{Kind: core.NodeInvite, ID: inv.ID, Depth: 1}
				built.Children = append(built.Children, in)
				level = append(level, register(in, inv.Token), register(in, inv.Token))
			}
			// Generations 2 and 3: each account's contact invites, made with the ad-hoc
			// command, used alternately on the web page and in band.
			for range 2 {
				var next []*storetest.TreeNode
				for _, a := range level[:3] {
					for range 2 {
						token := contactInvite(t, s, a.ID)
						in := &storetest.TreeNode{Kind: core.NodeInvite, ID: core.TokenID(token), Depth: a.Depth + 1}
						a.Children = append(a.Children, in)
						next = append(next, register(in, token))
					}
				}
				level = next
			}
			want := built.PreOrder()
			if len(want) < 30 || !slices.ContainsFunc(want, func(l string) bool { return strings.HasPrefix(l, strings.Repeat("  ", 6)) }) {
				t.Fatalf("built a tree of %d nodes:\n%s", len(want), strings.Join(want, "\n"))
			}
			// HTTP, a page of 4 at a time.
			gotHTTP := storetest.TreeLines(t, func(cursor string) ([]core.TreeItem, string) {
				r := httptest.NewRequestWithContext(ctxT(t), "GET", "/invites_api/keys/"+keyID+"/tree?limit=4&cursor="+url.QueryEscape(cursor), nil)
				r.Header.Set("Authorization", "Bearer "+cred)
				w := serve(t, s, r)
				var tree httpapi.Tree
				if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &tree) != nil {
					t.Fatalf("GET tree = %d %s", w.Code, w.Body)
				}
				items := make([]core.TreeItem, len(tree.Nodes))
				for i, n := range tree.Nodes {
					items[i] = core.TreeItem{ID: n.ID, Depth: n.Depth}
				}
				return items, tree.NextCursor
			})
			// The command line.
			var tree httpapi.Tree
			if err := json.Unmarshal([]byte(clirun("tree", "example.com", "key:"+keyID, "--json")), &tree); err != nil {
				t.Fatal(err)
			}
			var gotCLI []string
			for _, n := range tree.Nodes {
				gotCLI = append(gotCLI, strings.Repeat("  ", n.Depth)+n.ID)
			}
			// The ad-hoc command, page by page.
			var gotAdhoc []string
			resp := execute(t, s, "admin@example.com/desk", adhoc.RoleAdmin, adhoc.Request{Node: commands.NodeTree})
			req := adhoc.Request{Node: commands.NodeTree, SessionID: resp.SessionID, Action: adhoc.ActionComplete,
				Form: &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: "root", Values: []string{"key:" + keyID}}}}}
			for range 100 {
				resp = execute(t, s, "admin@example.com/desk", adhoc.RoleAdmin, req)
				ids, _ := resp.Form.Field("id")
				depths, _ := resp.Form.Field("depth")
				for i, id := range ids.Values {
					if d, _ := strconv.Atoi(depths.Values[i]); d > 0 {
						gotAdhoc = append(gotAdhoc, strings.Repeat("  ", d)+id)
					}
				}
				if resp.Status != adhoc.StatusExecuting {
					break
				}
				req = adhoc.Request{Node: commands.NodeTree, SessionID: resp.SessionID, Action: adhoc.ActionNext}
			}
			for name, got := range map[string][]string{"HTTP": gotHTTP, "the command line": gotCLI, "the ad-hoc command": gotAdhoc} {
				if !slices.Equal(got, want) {
					t.Errorf("%s reads:\n%s\nwant:\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}
}

// TestInviterStandingEveryWay (issue 24): the invites of an account the server reports
// disabled are refused at CheckInvite and RedeemInvite (the host's pre-authentication
// and in-band registration), and on the page, which says so plainly; enabled again,
// they work.
func TestInviterStandingEveryWay(t *testing.T) {
	s, h := accountsService(t, t.TempDir(), "")
	ctx := ctxT(t)
	top := contactInvite(t, s, "admin@example.com")
	if _, err := h.register(ctx, "example.com", top, "tybalt"); err != nil {
		t.Fatal(err)
	}
	token := contactInvite(t, s, "tybalt@example.com")
	if err := s.HostEvents(ctx, []plugin.Event{{ID: "1", Type: plugin.EventAccountDisabled, Host: "example.com", JID: "tybalt@example.com"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckInvite(ctx, "example.com", token); !errors.Is(err, plugin.ErrInviteNotFound) ||
		!strings.Contains(err.Error(), "can no longer invite people here") {
		t.Errorf("CheckInvite: %v", err)
	}
	if _, err := s.RedeemInvite(ctx, plugin.Redemption{Host: "example.com", Token: token, Username: "romeo"}); !errors.Is(err, plugin.ErrInviteNotFound) {
		t.Errorf("RedeemInvite: %v", err)
	}
	for _, target := range []string{"/invite?" + token, "/register?t=" + token} {
		w := serve(t, s, httptest.NewRequestWithContext(ctx, "GET", target, nil))
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "The person who invited you can no longer invite people here") ||
			w.Header().Get("Link") != "" {
			t.Errorf("GET %s = %d, Link %q\n%s", target, w.Code, w.Header().Get("Link"), w.Body)
		}
	}
	if err := s.HostEvents(ctx, []plugin.Event{{ID: "2", Type: plugin.EventAccountEnabled, Host: "example.com", JID: "tybalt@example.com"}}); err != nil {
		t.Fatal(err)
	}
	if body := webRegister(t, s, token, "romeo", ""); !strings.Contains(body, "romeo@example.com") {
		t.Errorf("after tybalt is enabled again:\n%s", body)
	}
}

// TestApprovalOnThePage (issue 24): an invite asking for approval: the page's form
// takes a note, the success page says the account awaits approval, the account is
// pending with the note, and it is approved over HTTP.
func TestApprovalOnThePage(t *testing.T) {
	dataDir := t.TempDir()
	s, _ := accountsService(t, dataDir, "")
	var out, errOut bytes.Buffer
	if code := cli.Run(ctxT(t), []string{"-data", dataDir, "invites", "create", "example.com", "--approval"}, &out, &errOut); code != 0 {
		t.Fatalf("invites create --approval: %d %s", code, errOut.String())
	}
	_, token, _ := strings.Cut(strings.TrimSpace(out.String()), "?")
	body := webRegister(t, s, token, "juliet", "Romeo's friend, from Verona")
	if !strings.Contains(body, "Your account awaits approval") {
		t.Fatalf("success page:\n%s", body)
	}
	out.Reset()
	if code := cli.Run(ctxT(t), []string{"-data", dataDir, "pending", "example.com"}, &out, &errOut); code != 0 ||
		!strings.HasPrefix(out.String(), "juliet@example.com ") || !strings.Contains(out.String(), "Romeo's friend, from Verona") {
		t.Fatalf("pending: %d %q %s", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := cli.Run(ctxT(t), []string{"-data", dataDir, "approve", "example.com", "juliet"}, &out, &errOut); code != 0 {
		t.Fatalf("approve: %d %s", code, errOut.String())
	}
}

// TestApprovalNeedsAccountStates (issue 24): on a server that can hold accounts pending,
// an in-band registration with an invite of a host whose approval rule covers it is
// answered Approval; on one that cannot, the plugin warns at start and nothing waits.
func TestApprovalNeedsAccountStates(t *testing.T) {
	for _, states := range []bool{true, false} {
		var logs testlog.Buffer
		s := service.New(slog.New(slog.NewTextHandler(&logs, nil)))
		h := &accountHost{s: s, accounts: map[string]bool{}}
		cfg := plugin.Config{DataDir: t.TempDir(), Domains: []string{"example.com"}, ConfigTOML: "allow_user_invites = true\n[accounts]\napproval = \"all\"\n"}
		if states {
			cfg.Features = []plugin.Feature{plugin.FeatureAccountStates}
		}
		if _, err := s.Configure(ctxT(t), cfg, h); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		token := contactInvite(t, s, "admin@example.com")
		inv, err := s.RedeemInvite(ctxT(t), plugin.Redemption{Host: "example.com", Token: token, Username: "juliet"})
		if err != nil || inv.Approval != states {
			t.Errorf("account states %v: Approval %v, %v", states, inv.Approval, err)
		}
		warned := strings.Contains(logs.String(), "the server cannot hold accounts pending approval")
		if warned == states {
			t.Errorf("account states %v: warned %v\n%s", states, warned, logs.String())
		}
	}
}

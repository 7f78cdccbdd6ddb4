package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// This file serves who invited whom (issue 24), JSON only, to keys with Manage (any
// other key gets 404, as for an invite it may not see):
//
//	GET  BasePath/accounts?state=S&limit=N&cursor=C   the accounts the plugin knows
//	GET  BasePath/accounts/JID                         one account
//	GET  BasePath/accounts/JID/tree?depth=D&limit=N&cursor=C
//	GET  BasePath/accounts/JID/invited-by
//	POST BasePath/accounts/JID/actions                 {"action", "subtree", "dry_run"}
//	POST BasePath/accounts/JID/approve, …/reject       a pending account
//	GET  BasePath/invites/ID/tree, …/invited-by; POST BasePath/invites/ID/actions
//	GET  BasePath/keys/ID/tree; POST BasePath/keys/ID/actions
//
// JID is a bare JID (percent-encoded as a path segment) or a username of the key's host.

// AccountService is what these endpoints need of the core, beside Service;
// *core.Service implements it. A Service that does not serves none of them (404).
type AccountService interface {
	// ListAccounts returns a page of the accounts of a host the plugin knows.
	ListAccounts(ctx context.Context, by core.Actor, q core.AccountQuery) (core.AccountPage, error)
	// Account returns one account the plugin knows.
	Account(ctx context.Context, by core.Actor, host, jid string) (core.Account, error)
	// Tree returns a page of the tree below an account, an invite or a key.
	Tree(ctx context.Context, by core.Actor, r core.TreeRequest) (core.TreePage, error)
	// InvitedBy returns the chain of inviters of an account or an invite.
	InvitedBy(ctx context.Context, by core.Actor, r core.TreeRequest) ([]core.TreeItem, error)
	// Bulk revokes invites, or disables or enables accounts, of a scope, or says
	// which it would (dry run).
	Bulk(ctx context.Context, spec core.BulkSpec) (core.BulkResult, error)
	// Approve and Reject decide on a pending account.
	Approve(ctx context.Context, by core.Actor, host, jid string) (core.Account, error)
	Reject(ctx context.Context, by core.Actor, host, jid string) (core.Account, error)
}

// The endpoints of this file; they follow the others' (see route).
const (
	epAccountList    endpoint = iota + 100 // BasePath/accounts
	epAccount                              // BasePath/accounts/JID
	epAccountTree                          // BasePath/accounts/JID/tree
	epAccountChain                         // BasePath/accounts/JID/invited-by
	epAccountActions                       // BasePath/accounts/JID/actions
	epAccountApprove                       // BasePath/accounts/JID/approve
	epAccountReject                        // BasePath/accounts/JID/reject
	epInviteTree                           // BasePath/invites/ID/tree
	epInviteChain                          // BasePath/invites/ID/invited-by
	epInviteActions                        // BasePath/invites/ID/actions
	epKeyTree                              // BasePath/keys/ID/tree
	epKeyActions                           // BasePath/keys/ID/actions
)

// accountRoute returns the endpoint of this file a path below BasePath names, and the
// JID or ID in it, or epNone.
func accountRoute(rest string) (endpoint, string) {
	if rest == "/accounts" {
		return epAccountList, ""
	}
	parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[1] == "" {
		return epNone, ""
	}
	sub := ""
	if len(parts) == 3 {
		sub = parts[2]
	}
	routes := map[string]map[string]endpoint{
		"accounts": {"": epAccount, "tree": epAccountTree, "invited-by": epAccountChain, "actions": epAccountActions,
			"approve": epAccountApprove, "reject": epAccountReject},
		"invites": {"tree": epInviteTree, "invited-by": epInviteChain, "actions": epInviteActions},
		"keys":    {"tree": epKeyTree, "actions": epKeyActions},
	}
	ep, ok := routes[parts[0]][sub]
	if !ok {
		return epNone, ""
	}
	return ep, parts[1]
}

// accountMethods lists the methods an endpoint of this file serves, and whether ep is
// one.
func accountMethods(ep endpoint) (string, bool) {
	switch ep {
	case epAccountList, epAccount, epAccountTree, epAccountChain, epInviteTree, epInviteChain, epKeyTree:
		return "GET, OPTIONS", true
	case epAccountActions, epAccountApprove, epAccountReject, epInviteActions, epKeyActions:
		return "POST, OPTIONS", true
	}
	return "", false
}

// serveAccounts answers a request to an endpoint of this file; the method is allowed.
func (h *Handler) serveAccounts(w http.ResponseWriter, r *http.Request, ep endpoint, id string) (int, error) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return 0, badRequest("malformed query string")
	}
	cred, err := credential(r.Header, query, nil)
	if err != nil {
		return 0, err
	}
	key, by, err := h.authenticate(r, cred)
	if err != nil {
		return 0, err
	}
	if h.acc == nil || !key.Manage {
		return 0, &statusError{status: http.StatusNotFound, detail: "no such endpoint for this API key: it needs --manage"}
	}
	ctx := r.Context()
	tree := core.TreeRequest{Host: key.Host, Root: id}
	switch ep {
	case epAccountList:
		return h.listAccounts(w, r, by, key.Host, query)
	case epAccount:
		a, err := h.acc.Account(ctx, by, key.Host, id)
		if err != nil {
			return 0, notFound(err, "no such account")
		}
		return writeJSON(w, http.StatusOK, NewAccount(a))
	case epAccountApprove, epAccountReject:
		decide := h.acc.Approve
		if ep == epAccountReject {
			decide = h.acc.Reject
		}
		a, err := decide(ctx, by, key.Host, id)
		if err != nil {
			return 0, notFound(err, "no such account")
		}
		return writeJSON(w, http.StatusOK, NewAccount(a))
	case epAccountTree, epAccountChain, epAccountActions:
		tree.Kind = core.NodeAccount
	case epInviteTree, epInviteChain, epInviteActions:
		tree.Kind = core.NodeInvite
	case epKeyTree, epKeyActions:
		tree.Kind = core.NodeKey
	}
	what := "no such " + string(tree.Kind)
	switch ep {
	case epAccountChain, epInviteChain:
		chain, err := h.acc.InvitedBy(ctx, by, tree)
		if err != nil {
			return 0, notFound(err, what)
		}
		now := h.now()
		body := Chain{InvitedBy: make([]TreeNode, len(chain))}
		for i, it := range chain {
			body.InvitedBy[i] = NewTreeNode(it, now)
		}
		return writeJSON(w, http.StatusOK, body)
	case epAccountActions, epInviteActions, epKeyActions:
		return h.bulk(w, r, by, tree, what)
	}
	return h.tree(w, r, by, tree, query, what)
}

// notFound turns the core's ErrNotFound into a 404 saying what was not found.
func notFound(err error, what string) error {
	if errors.Is(err, core.ErrNotFound) && len(core.FieldErrors(err)) == 0 {
		return &statusError{status: http.StatusNotFound, detail: what}
	}
	return err
}

// listAccounts answers GET BasePath/accounts?state=S&limit=N&cursor=C.
func (h *Handler) listAccounts(w http.ResponseWriter, r *http.Request, by core.Actor, host string, query url.Values) (int, error) {
	var (
		q    = core.AccountQuery{Host: host}
		errs []error
	)
	if v, _, err := single(core.FieldState, query, nil); err != nil {
		errs = append(errs, err)
	} else if q.State, err = core.ParseAccountState(v); err != nil {
		errs = append(errs, err)
	}
	q.Limit, errs = intParam(query, core.FieldLimit, core.MaxListLimit, errs)
	if v, _, err := single(core.FieldCursor, query, nil); err != nil {
		errs = append(errs, err)
	} else {
		q.Cursor = v
	}
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	page, err := h.acc.ListAccounts(r.Context(), by, q)
	if err != nil {
		return 0, err
	}
	body := AccountList{Accounts: make([]Account, len(page.Accounts)), NextCursor: page.NextCursor}
	for i, a := range page.Accounts {
		body.Accounts[i] = NewAccount(a)
	}
	return writeJSON(w, http.StatusOK, body)
}

// intParam reads the whole-number parameter name, from 1 to maxN, into the result
// (0 when absent), adding its refusal to errs.
func intParam(query url.Values, name string, maxN int, errs []error) (int, []error) {
	v, ok, err := single(name, query, nil)
	if err != nil {
		return 0, append(errs, err)
	}
	if !ok || v == "" {
		return 0, errs
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxN {
		return 0, append(errs, fieldError(name, "must be a whole number from 1 to %d", maxN))
	}
	return n, errs
}

// tree answers GET …/tree?depth=D&limit=N&cursor=C.
func (h *Handler) tree(w http.ResponseWriter, r *http.Request, by core.Actor, req core.TreeRequest, query url.Values, what string) (int, error) {
	var errs []error
	req.Depth, errs = intParam(query, core.FieldDepth, core.MaxTreeDepth, errs)
	req.Limit, errs = intParam(query, core.FieldLimit, core.MaxTreeLimit, errs)
	if v, _, err := single(core.FieldCursor, query, nil); err != nil {
		errs = append(errs, err)
	} else {
		req.Cursor = v
	}
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	page, err := h.acc.Tree(r.Context(), by, req)
	if err != nil {
		return 0, notFound(err, what)
	}
	now := h.now()
	body := Tree{Root: NewTreeNode(page.Root, now), Nodes: make([]TreeNode, len(page.Items)), NextCursor: page.NextCursor}
	for i, it := range page.Items {
		body.Nodes[i] = NewTreeNode(it, now)
	}
	return writeJSON(w, http.StatusOK, body)
}

// BulkRequest is the body of POST …/actions.
type BulkRequest struct {
	// Action is revoke-invites, disable-accounts or enable-accounts.
	Action string `json:"action"`
	// Subtree extends the scope to the whole tree below the account, invite or key;
	// without it the scope is its nearest invites or accounts.
	Subtree bool `json:"subtree,omitempty"`
	// DryRun changes nothing and answers what the action would change.
	DryRun bool `json:"dry_run,omitempty"`
}

// bulk answers POST …/actions.
func (h *Handler) bulk(w http.ResponseWriter, r *http.Request, by core.Actor, tree core.TreeRequest, what string) (int, error) {
	body, err := h.readBody(r, []string{"application/json"})
	if err != nil {
		return 0, err
	}
	var req BulkRequest
	d := json.NewDecoder(strings.NewReader(string(body)))
	d.DisallowUnknownFields()
	if len(body) == 0 || d.Decode(&req) != nil || d.More() {
		return 0, badRequest(`the body must be a JSON object such as {"action": "revoke-invites", "subtree": true, "dry_run": true}`)
	}
	action, err := core.ParseBulkAction(req.Action)
	if err != nil {
		return 0, err
	}
	res, err := h.acc.Bulk(r.Context(), core.BulkSpec{Tree: tree, Action: action, Subtree: req.Subtree, DryRun: req.DryRun, Actor: by})
	if err != nil && len(res.Invites) == 0 && len(res.Accounts) == 0 {
		return 0, notFound(err, what)
	}
	if err != nil {
		// Some changes were made before one failed: they are answered, and logged.
		h.log.Warn("bulk action stopped", "action", string(action), "err", err)
	}
	return writeJSON(w, http.StatusOK, NewBulkResult(res, h.now()))
}

// Account is an account as the API shows it, and as the command line prints it with
// --json. Times are RFC 3339, in UTC, to the second; unknown ones are left out.
type Account struct {
	JID              string    `json:"jid"`                        // its bare JID
	Host             string    `json:"host"`                       // its XMPP domain
	State            string    `json:"state"`                      // active, disabled, pending or deleted
	CreatedAt        time.Time `json:"created_at,omitzero"`        // when it was made, if known
	InviteID         string    `json:"invite_id,omitempty"`        // the invite that made it, if known
	InvitedBy        string    `json:"invited_by,omitempty"`       // that invite's creator: xmpp:JID, api/token/KEYID, cli
	FirstLogin       time.Time `json:"first_login,omitzero"`       // its first login the server reported
	LastLogin        time.Time `json:"last_login,omitzero"`        // its latest login the server reported
	Lang             string    `json:"lang,omitempty"`             // its client's language
	Note             string    `json:"note,omitempty"`             // what its holder wrote for its approval
	ApprovalDeadline time.Time `json:"approval_deadline,omitzero"` // when a pending account is rejected
}

// AccountList is a page of accounts; NextCursor, when not empty, continues it.
type AccountList struct {
	Accounts   []Account `json:"accounts"`              // oldest first
	NextCursor string    `json:"next_cursor,omitempty"` // the cursor of the next page
}

// NewAccount describes a.
func NewAccount(a core.Account) Account {
	t := func(t time.Time) time.Time {
		if t.IsZero() {
			return time.Time{}
		}
		return wireTime(t)
	}
	return Account{JID: a.JID, Host: a.Host, State: string(a.State), CreatedAt: t(a.CreatedAt), InviteID: a.InviteID,
		InvitedBy: a.Inviter, FirstLogin: t(a.FirstLogin), LastLogin: t(a.LastLogin), Lang: a.Lang, Note: a.Note,
		ApprovalDeadline: t(a.ApprovalDeadline)}
}

// TreeNode is a node of a tree or of a chain of inviters.
type TreeNode struct {
	Kind      string    `json:"kind"`                // account, invite, key, admin, cli, host or unknown
	ID        string    `json:"id,omitempty"`        // a bare JID, an invite's or a key's ID
	Parent    string    `json:"parent,omitempty"`    // the ID of the node above it in a tree
	Depth     int       `json:"depth"`               // its level below the root, or its place in a chain
	Status    string    `json:"status"`              // an invite's status, an account's state, a key's, or why unknown
	CreatedAt time.Time `json:"created_at,omitzero"` // when it was made, if known
	Name      string    `json:"name,omitempty"`      // a key's name
	Invite    *Invite   `json:"invite,omitempty"`    // an invite node's invite
	Account   *Account  `json:"account,omitempty"`   // an account node's account, when the plugin knows it
}

// NewTreeNode describes it, statuses judged at now.
func NewTreeNode(it core.TreeItem, now time.Time) TreeNode {
	n := TreeNode{Kind: string(it.Kind), ID: it.ID, Parent: it.Parent, Depth: it.Depth, Status: it.Status, Name: it.Name}
	if !it.Date.IsZero() {
		n.CreatedAt = wireTime(it.Date)
	}
	if it.Invite != nil {
		inv := NewInvite(*it.Invite, now)
		n.Invite = &inv
	}
	if it.Account != nil {
		a := NewAccount(*it.Account)
		n.Account = &a
	}
	return n
}

// Tree is a page of a tree: its root, then the nodes below it in pre-order (each
// after its parent); NextCursor, when not empty, continues it.
type Tree struct {
	Root       TreeNode   `json:"root"`
	Nodes      []TreeNode `json:"nodes"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// Chain is the chain of inviters of an account or an invite: the node itself first,
// then who made it, and so on up.
type Chain struct {
	InvitedBy []TreeNode `json:"invited_by"`
}

// BulkResult is what a bulk action changed, or would change (DryRun).
type BulkResult struct {
	Action   string    `json:"action"`
	DryRun   bool      `json:"dry_run"`
	Invites  []Invite  `json:"invites"`  // revoked, or to revoke
	Accounts []Account `json:"accounts"` // disabled or enabled, or to be
}

// NewBulkResult describes r, statuses judged at now.
func NewBulkResult(r core.BulkResult, now time.Time) BulkResult {
	out := BulkResult{Action: string(r.Action), DryRun: r.DryRun, Invites: make([]Invite, len(r.Invites)), Accounts: make([]Account, len(r.Accounts))}
	for i, inv := range r.Invites {
		out.Invites[i] = NewInvite(inv, now)
	}
	for i, a := range r.Accounts {
		out.Accounts[i] = NewAccount(a)
	}
	return out
}

var _ AccountService = (*core.Service)(nil)

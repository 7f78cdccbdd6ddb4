package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/internal/commands/session"
	"github.com/xmpp-invites/invites/internal/core"
)

// This file holds the commands of who invited whom (issue 24), for administrators:
// the tree of an account, an invite or a key; the approval queue; bulk actions with a
// dry run shown for confirmation.

// The nodes of the account commands.
const (
	// NodeTree shows who invited whom below an account, an invite or a key.
	NodeTree = "urn:xmpp-invites:accounts#tree"
	// NodeApproval approves or rejects the accounts waiting for approval.
	NodeApproval = "urn:xmpp-invites:accounts#approve"
	// NodeBulk revokes invites, or disables or enables accounts, of a scope, after a
	// dry run.
	NodeBulk = "urn:xmpp-invites:accounts#actions"
)

// accountDefinitions are the definitions of the account commands.
func (c *cmds) accountDefinitions() []session.Definition {
	return []session.Definition{
		{
			Node:     NodeTree,
			Name:     "Show who invited whom",
			Role:     adhoc.RoleAdmin,
			Stages:   []session.Stage{{Form: c.treeForm}},
			Complete: c.tree,
		},
		{
			Node:     NodeApproval,
			Name:     "Approve new accounts",
			Role:     adhoc.RoleAdmin,
			Stages:   []session.Stage{{Form: c.approvalForm}},
			Complete: c.approve,
		},
		{
			Node:     NodeBulk,
			Name:     "Revoke invites or disable accounts of a tree",
			Role:     adhoc.RoleAdmin,
			Stages:   []session.Stage{{Form: c.bulkForm}, {Form: c.bulkConfirm}},
			Complete: c.bulk,
		},
	}
}

// rootField is the field naming a tree's root, filled in with the requester's own
// account.
func rootField(call session.Call, desc string) adhoc.Field {
	f := text("root", "Account, invite or key", desc, true)
	f.Values = []string{actor(call, true).ID}
	return f
}

// treeRequest reads a tree's root ("key:ID" for a key) from the form.
func treeRequest(call session.Call, f *adhoc.Form) (core.TreeRequest, error) {
	root, err := single(f, "root")
	if err != nil {
		return core.TreeRequest{}, err
	}
	if root == "" {
		return core.TreeRequest{}, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "root: name an account, an invite or a key"}
	}
	req := core.TreeRequest{Host: call.Host, Root: root}
	if id, ok := strings.CutPrefix(root, "key:"); ok {
		req.Root, req.Kind = id, core.NodeKey
	}
	return req, nil
}

// nodeNotFound answers a tree request whose root is unknown.
func nodeNotFound(err error, root string) error {
	if errors.Is(err, core.ErrNotFound) && len(core.FieldErrors(err)) == 0 {
		return &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "root: no account, invite or key " + strconv.Quote(truncate(root, 64)) + " here"}
	}
	return notAcceptable("root", err)
}

func (c *cmds) treeForm(_ context.Context, call session.Call, _ []*adhoc.Form) (*adhoc.Form, error) {
	return &adhoc.Form{
		Type:         adhoc.FormForm,
		Title:        "Show who invited whom",
		Instructions: []string{"Shows the invites an account (or invite, or API key) made and the accounts they made, and so on below."},
		Fields: []adhoc.Field{
			rootField(call, "An account (name or JID), an invite ID, or key:ID for an API key."),
			text("depth", "Levels", "How many levels to show (an invite and its accounts are two); empty: all.", false),
		},
	}, nil
}

// treeColumns are the columns of the tree: var and label.
var treeColumns = [...][2]string{{"kind", "Kind"}, {"id", "ID"}, {"parent", "Parent"}, {"depth", "Depth"}, {"status", "Status"}, {"created", "Created"}}

// treeIndent bounds the indentation of a node in the tree's lines, so that the deepest
// still fit entryWidth.
const treeIndent = 16

// tree answers with a page of the tree (see listPage): each node in pre-order, its
// first line its kind and name indented by its depth, its second line its status and
// date; the columns kind, id, parent, depth, status, created for programs.
func (c *cmds) tree(ctx context.Context, call session.Call, forms []*adhoc.Form) (session.Result, error) {
	f := submitted(forms, 0)
	req, err := treeRequest(call, f)
	if err != nil {
		return session.Result{}, err
	}
	if d, err := single(f, "depth"); err != nil {
		return session.Result{}, err
	} else if d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > core.MaxTreeDepth {
			return session.Result{}, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: fmt.Sprintf("depth: write a whole number from 1 to %d", core.MaxTreeDepth)}
		}
		req.Depth = n
	}
	offset, cursor, err := parsePage(call.Page)
	if err != nil {
		return session.Result{}, err
	}
	req.Cursor, req.Limit = cursor, pageItems
	page, err := c.svc.Tree(ctx, actor(call, true), req)
	if errors.Is(err, core.ErrNotFound) && len(core.FieldErrors(err)) == 0 && req.Kind == "" && !core.ValidID(req.Root) {
		// An account the plugin knows nothing of: nobody below it that it knows.
		return info("Nobody the plugin knows of was invited by " + clip(req.Root, clipName) + "."), nil
	}
	if err != nil {
		return session.Result{}, nodeNotFound(err, req.Root)
	}
	list := newListPage("tree", "Tree", treeColumns[:])
	if offset == 0 {
		list.add(nodeEntry(page.Root), nodeRow(page.Root))
	}
	shown := 0
	for _, it := range page.Items {
		if !list.add(nodeEntry(it), nodeRow(it)) {
			break
		}
		shown++
	}
	res := session.Result{}
	switch {
	case shown < len(page.Items):
		// The page is full before the tree's page: the rest from the first node not shown.
		res.NextPage = pageName(offset+shown, page.Items[max(shown, 1)-1].Cursor)
	case page.NextCursor != "":
		res.NextPage = pageName(offset+shown, page.NextCursor)
	}
	if len(page.Items) == 0 && offset == 0 {
		res.Form = list.form("Who invited whom", "Nobody was invited below "+nodeName(page.Root)+".", "1 node.")
		return res, nil
	}
	res.Form = list.form("Who invited whom", "Below "+nodeName(page.Root)+", each node after the one that made it, oldest first.",
		pageText("node", offset+1, list.n, -1, res.NextPage != ""))
	return res, nil
}

// nodeName names a node for people: "account alice@example.com".
func nodeName(it core.TreeItem) string {
	if it.ID == "" {
		return string(it.Kind)
	}
	return string(it.Kind) + " " + it.ID
}

// nodeEntry writes a node of the tree for people: its kind and name indented by its
// depth, then its status and date.
func nodeEntry(it core.TreeItem) []string {
	indent := strings.Repeat(" ", min(2*it.Depth, treeIndent))
	name := it.ID
	if it.Kind == core.NodeKey && it.Name != "" {
		name = it.Name + " (" + it.ID + ")"
	}
	head := indent + clip(string(it.Kind)+" "+name, entryWidth-len(indent))
	var parts []string
	if it.Status != "" {
		parts = append(parts, it.Status)
	}
	if it.Invite != nil {
		parts = append(parts, fmt.Sprintf("%d of %s uses", it.Invite.Uses, maxUsesText(it.Invite.MaxUses)))
	}
	if !it.Date.IsZero() {
		parts = append(parts, it.Date.UTC().Format("2006-01-02"))
	}
	tail := indent + "  " + clip(strings.Join(parts, ", "), entryWidth-len(indent)-2)
	return []string{head, tail}
}

// nodeRow writes a node of the tree for programs (treeColumns).
func nodeRow(it core.TreeItem) []string {
	created := ""
	if !it.Date.IsZero() {
		created = formatTime(it.Date)
	}
	return []string{string(it.Kind), it.ID, it.Parent, strconv.Itoa(it.Depth), clip(it.Status, clipText), created}
}

// approvalChoices bounds the pending accounts the approval form offers, oldest first.
const approvalChoices = 50

func (c *cmds) approvalForm(ctx context.Context, call session.Call, _ []*adhoc.Form) (*adhoc.Form, error) {
	page, err := c.svc.ListAccounts(ctx, actor(call, true), core.AccountQuery{Host: call.Host, State: core.AccountPending, Limit: approvalChoices})
	if err != nil {
		return nil, err
	}
	if len(page.Accounts) == 0 {
		return nil, nil
	}
	var lines []string
	fl := adhoc.Field{Var: "accounts", Type: adhoc.FieldListMulti, Label: "Accounts", Required: true}
	for _, a := range page.Accounts {
		parts := []string{"invited by " + clip(inviterText(a.Inviter), clipName), "waiting since " + humanTime(a.CreatedAt)}
		if a.Note != "" {
			parts = append(parts, "note: "+clip(a.Note, clipText))
		}
		lines = append(lines, entryLines(a.JID, parts)...)
		fl.Options = append(fl.Options, adhoc.Option{Label: a.JID, Value: a.JID})
	}
	instr := "Accounts waiting for approval, oldest first. Approved ones can log in; rejected ones are deleted and their names freed."
	if page.NextCursor != "" {
		instr = fmt.Sprintf("The %d accounts waiting longest for approval. Approved ones can log in; rejected ones are deleted and their names freed.", len(page.Accounts))
	}
	fl.Desc = choicesDesc(fl.Options)
	return &adhoc.Form{
		Type:         adhoc.FormForm,
		Title:        "Approve new accounts",
		Instructions: []string{instr},
		Fields: []adhoc.Field{
			{Var: "waiting", Type: adhoc.FieldTextMulti, Label: "Waiting", Values: lines},
			fl,
			{Var: "decision", Type: adhoc.FieldListSingle, Label: "Decision", Required: true, Values: []string{"approve"},
				Options: []adhoc.Option{{Label: "Approve", Value: "approve"}, {Label: "Reject", Value: "reject"}}},
		},
	}, nil
}

// inviterText names an account's inviter for people.
func inviterText(createdBy string) string {
	switch {
	case createdBy == "":
		return "unknown"
	case strings.HasPrefix(createdBy, "xmpp:"):
		return createdBy[len("xmpp:"):]
	case strings.HasPrefix(createdBy, "api/token/"):
		return "API key " + createdBy[len("api/token/"):]
	case createdBy == "cli":
		return "the command line"
	}
	return createdBy
}

func (c *cmds) approve(ctx context.Context, call session.Call, forms []*adhoc.Form) (session.Result, error) {
	if len(forms) == 0 {
		return info("No account is waiting for approval on " + call.Host + "."), nil
	}
	jids, err := selected(forms, "accounts", "account")
	if err != nil {
		return session.Result{}, err
	}
	d, err := single(forms[0], "decision")
	if err != nil {
		return session.Result{}, err
	}
	decide, verb := c.svc.Approve, "Approved"
	switch strings.ToLower(d) {
	case "approve", "":
	case "reject":
		decide, verb = c.svc.Reject, "Rejected"
	default:
		return session.Result{}, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "decision: choose approve or reject"}
	}
	by := actor(call, true)
	var done []string
	var res session.Result
	for _, j := range jids {
		a, err := decide(ctx, by, call.Host, j)
		switch {
		case err == nil:
			done = append(done, a.JID)
		case errors.Is(err, core.ErrConflict), errors.Is(err, core.ErrNotFound), errors.Is(err, core.ErrInvalid):
			res.Notes = append(res.Notes, adhoc.Note{Type: adhoc.NoteWarn, Text: clip(j, clipName) + ": not waiting for approval any more"})
		default:
			return session.Result{}, err
		}
	}
	text := verb + " " + plural(int64(len(done)), "account") + "."
	if len(done) > 0 {
		text = verb + ": " + strings.Join(done, ", ") + "."
	}
	res.Notes = append([]adhoc.Note{{Type: adhoc.NoteInfo, Text: text}}, res.Notes...)
	return res, nil
}

// bulkActions are the choices of the bulk command's action field.
var bulkActions = []adhoc.Option{
	{Label: "Revoke the pending invites", Value: string(core.BulkRevokeInvites)},
	{Label: "Disable the accounts", Value: string(core.BulkDisableAccounts)},
	{Label: "Enable the accounts again", Value: string(core.BulkEnableAccounts)},
}

func (c *cmds) bulkForm(_ context.Context, call session.Call, _ []*adhoc.Form) (*adhoc.Form, error) {
	return &adhoc.Form{
		Type:         adhoc.FormForm,
		Title:        "Revoke invites or disable accounts of a tree",
		Instructions: []string{"The next step shows what would change, for you to confirm; nothing changes before."},
		Fields: []adhoc.Field{
			rootField(call, "An account (name or JID), an invite ID, or key:ID for an API key."),
			{Var: "action", Type: adhoc.FieldListSingle, Label: "Action", Required: true, Values: []string{string(core.BulkRevokeInvites)}, Options: bulkActions},
			{Var: "subtree", Type: adhoc.FieldBoolean, Label: "The whole tree below",
				Desc: "Everything below it; otherwise only the invites it made, or the accounts its invites made."},
		},
	}, nil
}

// bulkSpec reads the bulk command's first form.
func (c *cmds) bulkSpec(call session.Call, f *adhoc.Form) (core.BulkSpec, error) {
	req, err := treeRequest(call, f)
	if err != nil {
		return core.BulkSpec{}, err
	}
	a, err := single(f, "action")
	if err != nil {
		return core.BulkSpec{}, err
	}
	for _, o := range bulkActions {
		if strings.EqualFold(a, o.Label) {
			a = o.Value // Gajim submits labels
		}
	}
	action, err := core.ParseBulkAction(a)
	if err != nil {
		return core.BulkSpec{}, notAcceptable("action", err)
	}
	subtree, err := boolean(f, "subtree")
	if err != nil {
		return core.BulkSpec{}, err
	}
	return core.BulkSpec{Tree: req, Action: action, Subtree: subtree, Actor: actor(call, true)}, nil
}

// bulkShown bounds the changes the confirmation lists, one line each.
const bulkShown = 30

// bulkConfirm is the second stage: the dry run, and the confirmation.
func (c *cmds) bulkConfirm(ctx context.Context, call session.Call, forms []*adhoc.Form) (*adhoc.Form, error) {
	spec, err := c.bulkSpec(call, submitted(forms, 0))
	if err != nil {
		return nil, err
	}
	spec.DryRun = true
	res, err := c.svc.Bulk(ctx, spec)
	if err != nil {
		return nil, nodeNotFound(err, spec.Tree.Root)
	}
	lines := bulkLines(res)
	n := len(res.Invites) + len(res.Accounts)
	what := bulkWhat(res.Action, n)
	if n == 0 {
		return &adhoc.Form{Type: adhoc.FormForm, Title: "Nothing to change",
			Instructions: []string{"Nothing would change: no " + what + " below " + spec.Tree.Root + "."},
			Fields:       []adhoc.Field{{Var: "confirm", Type: adhoc.FieldBoolean, Label: "Done", Values: []string{"false"}}}}, nil
	}
	if len(lines) > bulkShown {
		lines = append(lines[:bulkShown], fmt.Sprintf("and %d more", len(lines)-bulkShown))
	}
	return &adhoc.Form{
		Type:         adhoc.FormForm,
		Title:        "Confirm",
		Instructions: []string{fmt.Sprintf("This would change %d %s, listed below. Nothing has changed yet.", n, what)},
		Fields: []adhoc.Field{
			{Var: "changes", Type: adhoc.FieldTextMulti, Label: "Would change", Values: lines},
			{Var: "confirm", Type: adhoc.FieldBoolean, Label: "Do it", Required: true, Values: []string{"false"},
				Desc: "Check to make these changes; leave unchecked to change nothing."},
		},
	}, nil
}

// bulkWhat names what an action changes, for n of them.
func bulkWhat(a core.BulkAction, n int) string {
	noun := map[core.BulkAction]string{core.BulkRevokeInvites: "pending invite", core.BulkDisableAccounts: "active account",
		core.BulkEnableAccounts: "disabled account"}[a]
	if n == 1 {
		return noun
	}
	return noun + "s"
}

// bulkLines lists what a bulk result changed, a short line each.
func bulkLines(r core.BulkResult) []string {
	var out []string
	for _, inv := range r.Invites {
		out = append(out, clip("invite "+inv.ID+" by "+inviterText(inv.CreatedBy), entryWidth))
	}
	for _, a := range r.Accounts {
		out = append(out, clip("account "+a.JID, entryWidth))
	}
	return out
}

// bulk completes the bulk command: the action, if confirmed.
func (c *cmds) bulk(ctx context.Context, call session.Call, forms []*adhoc.Form) (session.Result, error) {
	spec, err := c.bulkSpec(call, submitted(forms, 0))
	if err != nil {
		return session.Result{}, err
	}
	ok, err := boolean(submitted(forms, 1), "confirm")
	if err != nil {
		return session.Result{}, err
	}
	if !ok {
		return info("Nothing changed."), nil
	}
	res, err := c.svc.Bulk(ctx, spec)
	n := len(res.Invites) + len(res.Accounts)
	if err != nil && n == 0 {
		return session.Result{}, nodeNotFound(err, spec.Tree.Root)
	}
	verb := map[core.BulkAction]string{core.BulkRevokeInvites: "Revoked", core.BulkDisableAccounts: "Disabled",
		core.BulkEnableAccounts: "Enabled"}[spec.Action]
	out := info(fmt.Sprintf("%s %d %s.", verb, n, bulkWhat(spec.Action, n)))
	if err != nil {
		out.Notes = append(out.Notes, adhoc.Note{Type: adhoc.NoteError, Text: "It stopped before the end; run it again for the rest."})
	}
	return out, nil
}

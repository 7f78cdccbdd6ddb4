package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/core"
)

// accountsUsage is the usage of who invited whom (issue 24).
const accountsUsage = `  invites-plugin [FLAGS] tree HOST JID|INVITE-ID|key:ID [--depth N] [--json]
      Draw who was invited below an account, an invite or an API key: the invites it
      made and the accounts they made, recursively, a node a line (kind, name or ID,
      status, date). --depth bounds the levels (an invite and its accounts are two).
  invites-plugin [FLAGS] invited-by HOST JID|INVITE-ID [--json]
      Who invited an account or an invite, up to an administrator, a key, the
      command line, or an unknown inviter (accounts made before the plugin knew).
  invites-plugin [FLAGS] revoke-invites HOST JID|INVITE-ID|key:ID [--subtree] [--dry-run] [--json]
  invites-plugin [FLAGS] disable HOST JID|INVITE-ID|key:ID [--subtree] [--dry-run] [--json]
  invites-plugin [FLAGS] enable HOST JID|INVITE-ID|key:ID [--subtree] [--dry-run] [--json]
      Revoke the pending invites, or disable or enable again the accounts, that an
      account, an invite or a key made (--subtree: the whole tree below it). Run with
      --dry-run first: it changes nothing and lists exactly what the same command
      changes. The running server disables the accounts (where it can).
  invites-plugin [FLAGS] pending HOST [--json]
      List the accounts waiting for approval, with their notes and inviters.
  invites-plugin [FLAGS] approve HOST JID
  invites-plugin [FLAGS] reject HOST JID
      Let a pending account in, or refuse it (the server deletes it, freeing its name).

`

// accountVerbs are the single-word commands of this file, with the options each takes
// and the usage of their words.
var accountVerbs = map[string]struct {
	opts []string
	want string
	n    int // words after the verb: HOST, then the node or account
}{
	"tree":           {[]string{"depth", "json"}, "HOST JID|INVITE-ID|key:ID", 2},
	"invited-by":     {[]string{"json"}, "HOST JID|INVITE-ID", 2},
	"revoke-invites": {[]string{"subtree", "dry-run", "json"}, "HOST JID|INVITE-ID|key:ID", 2},
	"disable":        {[]string{"subtree", "dry-run", "json"}, "HOST JID|INVITE-ID|key:ID", 2},
	"enable":         {[]string{"subtree", "dry-run", "json"}, "HOST JID|INVITE-ID|key:ID", 2},
	"pending":        {[]string{"json"}, "HOST", 1},
	"approve":        {nil, "HOST JID", 2},
	"reject":         {nil, "HOST JID", 2},
}

// runAccounts runs the commands of accountVerbs.
func runAccounts(ctx context.Context, p parsed, stdout io.Writer) error {
	verb := p.pos[0]
	v := accountVerbs[verb]
	if len(p.pos)-1 != v.n {
		return usagef("%s: want %s", verb, v.want)
	}
	for name := range p.opts {
		found := false
		for _, o := range v.opts {
			found = found || o == name
		}
		if !found {
			if len(v.opts) == 0 {
				return usagef("%s takes no options", verb)
			}
			return usagef("%s takes no --%s", verb, name)
		}
	}
	var (
		req     core.TreeRequest
		refused error
	)
	if v.n == 2 {
		req.Root, req.Kind = p.pos[2], ""
		if id, ok := strings.CutPrefix(req.Root, "key:"); ok {
			req.Root, req.Kind = id, core.NodeKey
		}
	}
	if d, ok := p.value("depth"); ok {
		n, err := fmt.Sscanf(d, "%d", &req.Depth)
		if n != 1 || err != nil || req.Depth < 1 || req.Depth > core.MaxTreeDepth || fmt.Sprint(req.Depth) != strings.TrimSpace(d) {
			refused = core.Refuse(core.ErrInvalid, core.FieldDepth, "must be a whole number from 1 to %d", core.MaxTreeDepth)
		}
	}
	s, err := open(ctx, p.g)
	if err != nil {
		return errors.Join(refused, err)
	}
	defer s.Close()
	host, err := s.host(p.pos[1])
	if err != nil {
		return err
	}
	if refused != nil {
		return refused
	}
	req.Host = host
	now := time.Now()
	switch verb {
	case "tree":
		return printTree(ctx, s.svc, req, p.has("json"), now, stdout)
	case "invited-by":
		chain, err := s.svc.InvitedBy(ctx, cliActor, req)
		if err != nil {
			return accountError(err, req)
		}
		if p.has("json") {
			out := httpapi.Chain{InvitedBy: make([]httpapi.TreeNode, len(chain))}
			for i, it := range chain {
				out.InvitedBy[i] = httpapi.NewTreeNode(it, now)
			}
			return writeJSON(stdout, out)
		}
		for _, it := range chain {
			fmt.Fprintf(stdout, "%s%s\n", strings.Repeat("  ", it.Depth), nodeLine(it))
		}
		return nil
	case "revoke-invites", "disable", "enable":
		action := map[string]core.BulkAction{"revoke-invites": core.BulkRevokeInvites,
			"disable": core.BulkDisableAccounts, "enable": core.BulkEnableAccounts}[verb]
		res, err := s.svc.Bulk(ctx, core.BulkSpec{Tree: req, Action: action, Subtree: p.has("subtree"), DryRun: p.has("dry-run"), Actor: cliActor})
		if err != nil && len(res.Invites)+len(res.Accounts) == 0 {
			return accountError(err, req)
		}
		if p.has("json") {
			return errors.Join(writeJSON(stdout, httpapi.NewBulkResult(res, now)), err)
		}
		return errors.Join(printBulk(stdout, res, now), err)
	case "pending":
		return printPending(ctx, s.svc, host, p.has("json"), stdout)
	case "approve", "reject":
		decide := s.svc.Approve
		if verb == "reject" {
			decide = s.svc.Reject
		}
		a, err := decide(ctx, cliActor, host, p.pos[2])
		if err != nil {
			return accountError(err, core.TreeRequest{Kind: core.NodeAccount})
		}
		what := "approved: it can log in once the server has enabled it"
		if verb == "reject" {
			what = "rejected: the server deletes it and frees its name"
		}
		fmt.Fprintf(stdout, "%s %s\n", a.JID, what)
	}
	return nil
}

// accountError says what was not found, for core.ErrNotFound, and returns any other
// error as it is.
func accountError(err error, req core.TreeRequest) error {
	if !errors.Is(err, core.ErrNotFound) || len(core.FieldErrors(err)) > 0 {
		return err
	}
	switch {
	case req.Kind == core.NodeKey:
		return errors.New("key not found")
	case req.Kind == core.NodeAccount, !core.ValidID(req.Root):
		return errors.New("account not found")
	}
	return errors.New("no such account or invite")
}

// printTree reads the whole tree of req and prints it, as JSON (httpapi.Tree, every
// node in one document) or drawn with box-drawing characters, a node a line.
func printTree(ctx context.Context, svc *core.Service, req core.TreeRequest, asJSON bool, now time.Time, w io.Writer) error {
	req.Limit = core.MaxTreeLimit
	var (
		rootItem core.TreeItem
		items    []core.TreeItem
	)
	for range core.MaxBulk {
		page, err := svc.Tree(ctx, cliActor, req)
		if err != nil {
			return accountError(err, req)
		}
		rootItem = page.Root
		items = append(items, page.Items...)
		if page.NextCursor == "" {
			break
		}
		req.Cursor = page.NextCursor
	}
	if asJSON {
		out := httpapi.Tree{Root: httpapi.NewTreeNode(rootItem, now), Nodes: make([]httpapi.TreeNode, len(items))}
		for i, it := range items {
			out.Nodes[i] = httpapi.NewTreeNode(it, now)
		}
		return writeJSON(w, out)
	}
	_, err := io.WriteString(w, DrawTree(rootItem, items))
	return err
}

// DrawTree draws a tree for a terminal: the root on the first line, then each node
// below it in pre-order on a line of its own, under its parent with box-drawing
// characters ("├── ", "└── ", "│   "), as nodeLine writes it.
func DrawTree(root core.TreeItem, items []core.TreeItem) string {
	var b strings.Builder
	b.WriteString(nodeLine(root) + "\n")
	// last[i]: no later sibling of items[i] follows before the tree climbs above it.
	last := make([]bool, len(items))
	next := map[int]bool{} // depths with a later sibling seen, scanning backwards
	for i := len(items) - 1; i >= 0; i-- {
		d := items[i].Depth
		last[i] = !next[d]
		for k := range next {
			if k > d {
				delete(next, k)
			}
		}
		next[d] = true
	}
	var open []bool // open[k]: the ancestor at depth k+1 has later siblings
	for i, it := range items {
		d := max(it.Depth, 1)
		if len(open) >= d {
			open = open[:d-1]
		}
		for len(open) < d-1 {
			open = append(open, false) // a level with no line of its own
		}
		for _, o := range open {
			if o {
				b.WriteString("│   ")
			} else {
				b.WriteString("    ")
			}
		}
		if last[i] {
			b.WriteString("└── ")
		} else {
			b.WriteString("├── ")
		}
		b.WriteString(nodeLine(it) + "\n")
		open = append(open, !last[i])
	}
	return b.String()
}

// nodeLine writes a node for people: its kind, its name or ID, then its status and
// date in parentheses ("invite AbC123dEf456 (used, 2031-03-14)").
func nodeLine(it core.TreeItem) string {
	name := it.ID
	if it.Kind == core.NodeKey && it.Name != "" {
		name = it.Name + " (" + it.ID + ")"
	}
	parts := []string{}
	if it.Status != "" {
		parts = append(parts, it.Status)
	}
	if it.Invite != nil {
		parts = append(parts, fmt.Sprintf("%d/%s uses", it.Invite.Uses, maxUses(it.Invite.MaxUses)))
	}
	if !it.Date.IsZero() {
		parts = append(parts, it.Date.UTC().Format("2006-01-02"))
	}
	line := string(it.Kind)
	if name != "" {
		line += " " + name
	}
	if len(parts) > 0 {
		line += " (" + strings.Join(parts, ", ") + ")"
	}
	return line
}

// printBulk prints what a bulk action changed, or would change, a line each.
func printBulk(w io.Writer, r core.BulkResult, now time.Time) error {
	verb := map[core.BulkAction]string{core.BulkRevokeInvites: "revoked", core.BulkDisableAccounts: "disabled",
		core.BulkEnableAccounts: "enabled"}[r.Action]
	if r.DryRun {
		verb = "would be " + verb
	}
	for _, inv := range r.Invites {
		fmt.Fprintf(w, "invite %s %s (made by %s, %d/%s uses)\n", inv.ID, verb, inv.CreatedBy, inv.Uses, maxUses(inv.MaxUses))
	}
	for _, a := range r.Accounts {
		fmt.Fprintf(w, "account %s %s\n", a.JID, verb)
	}
	n := len(r.Invites) + len(r.Accounts)
	noun := "invites"
	if r.Action != core.BulkRevokeInvites {
		noun = "accounts"
	}
	if r.DryRun {
		_, err := fmt.Fprintf(w, "%d %s would change; nothing changed (dry run)\n", n, noun)
		return err
	}
	_, err := fmt.Fprintf(w, "%d %s changed\n", n, noun)
	return err
}

// printPending prints the accounts waiting for approval, tab-separated: JID, made,
// deadline, inviter, note.
func printPending(ctx context.Context, svc *core.Service, host string, asJSON bool, w io.Writer) error {
	var accs []core.Account
	cursor := ""
	for range core.MaxBulk {
		page, err := svc.ListAccounts(ctx, cliActor, core.AccountQuery{Host: host, State: core.AccountPending, Limit: core.MaxListLimit, Cursor: cursor})
		if err != nil {
			return err
		}
		accs = append(accs, page.Accounts...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if asJSON {
		out := make([]httpapi.Account, len(accs))
		for i, a := range accs {
			out[i] = httpapi.NewAccount(a)
		}
		return writeJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, a := range accs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.JID, stamp(a.CreatedAt, "-"), "until "+stamp(a.ApprovalDeadline, "-"),
			orDash(a.Inviter), a.Note)
	}
	return tw.Flush()
}

// orDash writes "-" for an empty value.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

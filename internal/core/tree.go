package core

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The tree of who invited whom: an account (or an API key, or the command line)
// made invites, each invite made accounts, which made invites, and so on. The
// plugin knows the accounts made with its invites (Account.InviteID); the invites
// an account made are those whose creator is "xmpp:" + its JID, made after it was
// (an invite made by an earlier account of the same name is not its).

// NodeKind says what a node of the tree, or of an inviter chain, is.
type NodeKind string

// The kinds of node.
const (
	// NodeAccount is an account (ID its bare JID).
	NodeAccount NodeKind = "account"
	// NodeInvite is an invite (ID its ID).
	NodeInvite NodeKind = "invite"
	// NodeKey is an API key (ID its ID), where a chain of inviters ends.
	NodeKey NodeKind = "key"
	// NodeAdmin is an administrator's account (ID its JID), where a chain ends: an
	// invite an administrator made.
	NodeAdmin NodeKind = "admin"
	// NodeCLI is the command line, where a chain ends.
	NodeCLI NodeKind = "cli"
	// NodeHost is the server itself, where a chain ends.
	NodeHost NodeKind = "host"
	// NodeUnknown ends a chain whose next link the plugin does not know: an account
	// made before version 3, or by other means than an invite, or an invite made by
	// an earlier account of the same name.
	NodeUnknown NodeKind = "unknown"
)

// Bounds of trees.
const (
	// MaxTreeDepth bounds how many levels below its root a tree goes (an invite and
	// the accounts it made are two levels), and how long a chain of inviters is.
	MaxTreeDepth = 64
	// DefaultTreeLimit is how many nodes a page of a tree holds unless asked.
	DefaultTreeLimit = 50
	// MaxTreeLimit bounds a page of a tree.
	MaxTreeLimit = 200
)

// The segments of a tree path (TreeNode.Path): the path of a node is its parent's,
// "/", and its own segment; the root's is "". The text order of paths is the tree's
// pre-order, siblings in the order they were made.
// An invite whose record was purged keeps its place, known from its accounts
// (Account.InviteID, Account.InviteCreatedAt).
const (
	// InviteSegmentLen is the length of an invite's segment: its CreatedAt as 16
	// decimal digits of Unix microseconds, then its ID.
	InviteSegmentLen = 16 + IDLen
	// AccountSegmentLen is the length of an account's segment: its Seq as 12 decimal
	// digits.
	AccountSegmentLen = 12
)

// InviteSegment returns the segment of inv in a tree path.
func InviteSegment(inv Invite) string {
	return fmt.Sprintf("%016d%s", inv.CreatedAt.UnixMicro(), inv.ID)
}

// AccountSegment returns the segment of an account of sequence number seq.
func AccountSegment(seq int64) string { return fmt.Sprintf("%012d", seq) }

// TreeQuery selects a page of the nodes below a root, for Store.Tree.
// The root is a creator (Creator: the invites it made are the first level) or an
// invite (Invite: the accounts it made are the first level). Below an invite come
// the accounts whose InviteID it is; below an account (or key) the invites it made at
// or after its CreatedAt, with those whose record was purged but made accounts the
// plugin knows (TreeNode.Purged, their place kept by their accounts).
type TreeQuery struct {
	// Host is the domain; required.
	Host string
	// Creator is the root's creator string: "xmpp:JID", "api/token/ID" or "cli".
	Creator string
	// Since is when the root account was made: its invites are those made at or after
	// it. Zero for a key, or an account made at an unknown time.
	Since time.Time
	// Invite is the root invite's ID, when Creator is "".
	Invite string
	// Depth bounds the levels below the root: 1 is the root's children only.
	Depth int
	// After is the Path of the last node of the previous page; "" starts at the first.
	After string
	// Limit bounds the page; it is at least 1.
	Limit int
}

// TreeNode is a node below a tree's root, as Store.Tree returns it: an invite or an
// account, with its Path and its Depth (1 for the root's children).
type TreeNode struct {
	// Path is the node's path (see InviteSegment, AccountSegment).
	Path string
	// Depth is its level below the root.
	Depth int
	// Invite is set for an invite, without its redemptions.
	Invite *Invite
	// Account is set for an account.
	Account *Account
	// Purged is the ID of an invite whose record was purged (neither Invite nor
	// Account is set); its CreatedAt is in its path's last segment.
	Purged string
}

// TreeItem is a node of a tree or an inviter chain, as callers show it.
type TreeItem struct {
	// Kind is what the node is.
	Kind NodeKind
	// ID names it: an account's bare JID, an invite's or a key's ID; "" for the
	// command line, the host, and an unknown inviter.
	ID string
	// Parent is the ID of the node above it in a tree ("" for the root).
	Parent string
	// Depth is its level below the root of a tree, or its place in a chain (0 for the
	// node the chain starts at).
	Depth int
	// Status is an invite's status, an account's state, a key's "active", "expired" or
	// "deleted", or for an unknown inviter why it is unknown.
	Status string
	// Date is when it was made; zero when unknown.
	Date time.Time
	// Invite is the invite of an invite node.
	Invite *Invite
	// Account is the account of an account node, when the plugin knows it.
	Account *Account
	// Name is a key's name.
	Name string
	// Cursor continues a tree after this node (TreeRequest.Cursor); "" in chains and
	// for a tree's root.
	Cursor string
}

// TreeRequest asks for a page of a tree (Service.Tree), or a chain of inviters
// (Service.InvitedBy).
type TreeRequest struct {
	// Host is the domain; required.
	Host string
	// Root names the root: an account (a bare JID, or a username of Host), an invite
	// ID, or a key ID.
	Root string
	// Kind says what Root is: NodeAccount, NodeInvite or NodeKey; "" guesses an
	// account or an invite: a JID is an account; an invite ID of Host is an invite;
	// anything else a username.
	Kind NodeKind
	// Depth bounds the levels below the root; 0 means MaxTreeDepth.
	Depth int
	// Limit bounds the page: 0 means DefaultTreeLimit; at most MaxTreeLimit.
	Limit int
	// Cursor continues from the NextCursor of the previous page.
	Cursor string
}

// TreePage is one page of a tree.
type TreePage struct {
	// Root is the tree's root.
	Root TreeItem
	// Items are the nodes below it, in pre-order (each after its parent).
	Items []TreeItem
	// NextCursor continues the tree; "" on the last page.
	NextCursor string
}

// root is a resolved tree root.
type root struct {
	item    TreeItem
	creator string // the invites of the first level, for an account or key root
	since   time.Time
	invite  string // the invite of a root invite
}

// resolveRoot finds the root a request names on host h.
func (s *Service) resolveRoot(ctx context.Context, h HostConfig, r TreeRequest) (root, error) {
	kind := r.Kind
	name := strings.TrimSpace(r.Root)
	if name == "" {
		return root{}, Refuse(ErrInvalid, FieldJID, "name an account or an invite")
	}
	if kind == "" {
		kind = NodeAccount
		if ValidID(name) && !strings.Contains(name, "@") {
			if inv, err := s.store.Invite(ctx, name); err == nil && inv.Host == h.Domain {
				kind = NodeInvite
			} else if err != nil && !errors.Is(err, ErrNotFound) {
				return root{}, fmt.Errorf("reading invite: %w", err)
			}
		}
	}
	switch kind {
	case NodeInvite:
		if !ValidID(name) {
			return root{}, ErrNotFound
		}
		inv, err := s.store.Invite(ctx, name)
		if err != nil {
			return root{}, fmt.Errorf("reading invite: %w", err)
		}
		if inv.Host != h.Domain {
			return root{}, ErrNotFound
		}
		return root{item: inviteItem(inv, s.now()), invite: inv.ID}, nil
	case NodeKey:
		if !ValidKeyID(name) {
			return root{}, ErrNotFound
		}
		item := TreeItem{Kind: NodeKey, ID: name, Status: "deleted"}
		k, err := s.store.Key(ctx, name)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return root{}, fmt.Errorf("reading key: %w", err)
		case k.Host != h.Domain:
			return root{}, ErrNotFound
		default:
			item = keyItem(k, s.now())
		}
		return root{item: item, creator: "api/token/" + name}, nil
	case NodeAccount:
		bare, domain, err := s.accountJID(h, name)
		if err != nil {
			return root{}, err
		}
		if domain != h.Domain {
			return root{}, ErrNotFound
		}
		item := TreeItem{Kind: NodeAccount, ID: bare, Status: "unknown"}
		a, err := s.store.Account(ctx, bare)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return root{}, fmt.Errorf("reading account: %w", err)
		default:
			item = accountItem(a)
		}
		rt := root{item: item, creator: "xmpp:" + bare}
		if item.Account != nil && item.Account.State != AccountDeleted {
			rt.since = item.Account.CreatedAt
		}
		return rt, nil
	}
	return root{}, Refuse(ErrInvalid, FieldJID, "unknown kind of node %q: use account, invite or key", string(kind))
}

// inviteItem is the tree item of inv, its status at now.
func inviteItem(inv Invite, now time.Time) TreeItem {
	parent := creatorJID(inv.CreatedBy)
	if parent == "" {
		parent = creatorKey(inv.CreatedBy)
	}
	return TreeItem{Kind: NodeInvite, ID: inv.ID, Parent: parent, Status: string(inv.Status(now)), Date: inv.CreatedAt, Invite: &inv}
}

// accountItem is the tree item of a.
func accountItem(a Account) TreeItem {
	return TreeItem{Kind: NodeAccount, ID: a.JID, Parent: a.InviteID, Status: string(a.State), Date: a.CreatedAt, Account: &a}
}

// keyItem is the chain or tree item of a key, its status at now.
func keyItem(k Key, now time.Time) TreeItem {
	st := "active"
	if k.Expired(now) {
		st = "expired"
	}
	return TreeItem{Kind: NodeKey, ID: k.ID, Status: st, Date: k.CreatedAt, Name: k.Name}
}

// treeCursor and parseTreeCursor turn a path into the opaque text of a cursor.
func treeCursor(path string) string { return b64.EncodeToString([]byte("t" + path)) }

func parseTreeCursor(s string) (string, error) {
	b, err := b64.Strict().DecodeString(s)
	bad := Refuse(ErrInvalid, FieldCursor, "malformed: use the next_cursor of the previous page")
	if err != nil || len(b) < 2 || b[0] != 't' || len(b) > 1+MaxTreeDepth*(InviteSegmentLen+1) {
		return "", bad
	}
	path := string(b[1:])
	for _, seg := range strings.Split(path, "/")[1:] {
		switch {
		case len(seg) == AccountSegmentLen && isDigits(seg):
		case len(seg) == InviteSegmentLen && isDigits(seg[:16]) && ValidID(seg[16:]):
		default:
			return "", bad
		}
	}
	if !strings.HasPrefix(path, "/") {
		return "", bad
	}
	return path, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Tree returns a page of the tree below an account, an invite or a key of a host
// (see TreeRequest): the invites it made and the accounts they made, recursively, in
// pre-order, with dates, kinds and statuses; for an actor that manages the host
// (others get ErrNotFound). An account the plugin does not know, with no invite
// either, is ErrNotFound.
// A page costs a bounded amount of work however large the tree (see Store.Tree).
func (s *Service) Tree(ctx context.Context, by Actor, r TreeRequest) (TreePage, error) {
	h, err := s.Host(r.Host)
	if err != nil {
		return TreePage{}, err
	}
	if !by.managing() {
		return TreePage{}, ErrNotFound
	}
	depth, limit := r.Depth, r.Limit
	var errs []error
	switch {
	case depth == 0:
		depth = MaxTreeDepth
	case depth < 0 || depth > MaxTreeDepth:
		errs = append(errs, Refuse(ErrInvalid, FieldDepth, "must be between 1 and %d", MaxTreeDepth))
	}
	switch {
	case limit == 0:
		limit = DefaultTreeLimit
	case limit < 0 || limit > MaxTreeLimit:
		errs = append(errs, Refuse(ErrInvalid, FieldLimit, "must be between 1 and %d", MaxTreeLimit))
	}
	after := ""
	if r.Cursor != "" {
		var err error
		after, err = parseTreeCursor(r.Cursor)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return TreePage{}, err
	}
	rt, err := s.resolveRoot(ctx, h, r)
	if err != nil {
		return TreePage{}, err
	}
	nodes, err := s.store.Tree(ctx, TreeQuery{Host: h.Domain, Creator: rt.creator, Since: rt.since, Invite: rt.invite,
		Depth: depth, After: after, Limit: limit + 1})
	if err != nil {
		return TreePage{}, fmt.Errorf("reading the tree: %w", err)
	}
	switch {
	case len(nodes) > 0 || after != "":
	case rt.item.Kind == NodeAccount && rt.item.Account == nil, rt.item.Kind == NodeKey && rt.item.Status == "deleted":
		return TreePage{}, ErrNotFound // nothing known of it
	}
	page := TreePage{Root: rt.item}
	if len(nodes) > limit {
		nodes = nodes[:limit]
		page.NextCursor = treeCursor(nodes[limit-1].Path)
	}
	now := s.now()
	for _, n := range nodes {
		var it TreeItem
		switch {
		case n.Invite != nil:
			it = inviteItem(*n.Invite, now)
			if n.Depth == 1 && rt.item.Kind == NodeKey {
				it.Parent = rt.item.ID
			}
		case n.Account != nil:
			it = accountItem(*n.Account)
		case n.Purged != "":
			it = TreeItem{Kind: NodeInvite, ID: n.Purged, Status: "purged", Date: segmentTime(n.Path)}
		default:
			continue
		}
		it.Depth, it.Cursor = n.Depth, treeCursor(n.Path)
		page.Items = append(page.Items, it)
	}
	return page, nil
}

// segmentTime returns the time an invite's segment ends path with.
func segmentTime(path string) time.Time {
	seg := path[strings.LastIndexByte(path, '/')+1:]
	if len(seg) != InviteSegmentLen {
		return time.Time{}
	}
	us, err := strconv.ParseInt(seg[:16], 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// InvitedBy returns the chain of inviters of an account or an invite of a host: the
// node itself, then the invite that made the account, the account (or key, or
// administrator, or command line) that made the invite, and so on up to an
// administrator, a key, the command line, the host, or an inviter the plugin does not
// know (NodeUnknown, never guessed); for an actor that manages the host (others get
// ErrNotFound).
func (s *Service) InvitedBy(ctx context.Context, by Actor, r TreeRequest) ([]TreeItem, error) {
	h, err := s.Host(r.Host)
	if err != nil {
		return nil, err
	}
	if !by.managing() {
		return nil, ErrNotFound
	}
	if r.Kind == NodeKey {
		return nil, Refuse(ErrInvalid, FieldJID, "a key invites no one: it has no inviter")
	}
	rt, err := s.resolveRoot(ctx, h, r)
	if err != nil {
		return nil, err
	}
	if rt.item.Kind == NodeAccount && rt.item.Account == nil {
		return nil, ErrNotFound
	}
	now := s.now()
	chain := []TreeItem{rt.item}
	add := func(it TreeItem) {
		it.Depth = len(chain)
		chain = append(chain, it)
	}
	seen := map[string]bool{}
	cur := rt.item
	for range 2*MaxTreeDepth + 2 {
		var (
			creator string
			inv     *Invite
		)
		switch cur.Kind {
		case NodeAccount:
			a := cur.Account
			if a == nil || a.InviteID == "" {
				why := "unknown: made before the plugin kept track of inviters, or without an invite"
				add(TreeItem{Kind: NodeUnknown, Status: why})
				return chain, nil
			}
			seen[a.JID] = true
			got, err := s.store.Invite(ctx, a.InviteID)
			switch {
			case errors.Is(err, ErrNotFound):
				add(TreeItem{Kind: NodeInvite, ID: a.InviteID, Parent: creatorJID(a.Inviter), Status: "purged"})
				creator = a.Inviter
			case err != nil:
				return nil, fmt.Errorf("reading invite: %w", err)
			default:
				it := inviteItem(got, now)
				add(it)
				inv, creator = &got, got.CreatedBy
			}
		case NodeInvite:
			inv, creator = cur.Invite, cur.Invite.CreatedBy
		default:
			return chain, nil
		}
		next, done, err := s.creatorItem(ctx, h, creator, inv, now, seen)
		if err != nil {
			return nil, err
		}
		add(next)
		if done {
			return chain, nil
		}
		cur = next
	}
	add(TreeItem{Kind: NodeUnknown, Status: "unknown: the chain is longer than " + strconv.Itoa(MaxTreeDepth)})
	return chain, nil
}

// creatorItem returns the chain item of an invite's creator, and whether the chain
// ends there; inv is the invite (nil when its record was purged).
func (s *Service) creatorItem(ctx context.Context, h HostConfig, creator string, inv *Invite, now time.Time, seen map[string]bool) (TreeItem, bool, error) {
	if j := creatorJID(creator); j != "" {
		if inv != nil && !inv.ByUser {
			return TreeItem{Kind: NodeAdmin, ID: j, Status: "administrator"}, true, nil
		}
		if seen[j] {
			return TreeItem{Kind: NodeUnknown, ID: j, Status: "unknown: the chain returns to " + j}, true, nil
		}
		a, err := s.store.Account(ctx, j)
		switch {
		case errors.Is(err, ErrNotFound):
			return TreeItem{Kind: NodeAccount, ID: j, Status: "unknown"}, false, nil
		case err != nil:
			return TreeItem{}, false, fmt.Errorf("reading account: %w", err)
		case inv != nil && !a.CreatedAt.IsZero() && a.CreatedAt.After(inv.CreatedAt):
			return TreeItem{Kind: NodeUnknown, ID: j, Status: "unknown: an earlier account named " + j + ", since deleted"}, true, nil
		}
		return accountItem(a), false, nil
	}
	if id := creatorKey(creator); id != "" {
		k, err := s.store.Key(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			return TreeItem{Kind: NodeKey, ID: id, Status: "deleted"}, true, nil
		case err != nil:
			return TreeItem{}, false, fmt.Errorf("reading key: %w", err)
		}
		return keyItem(k, now), true, nil
	}
	if creator == "cli" {
		return TreeItem{Kind: NodeCLI, Status: "command line"}, true, nil
	}
	if creator == "" {
		return TreeItem{Kind: NodeUnknown, Status: "unknown"}, true, nil
	}
	return TreeItem{Kind: NodeHost, ID: h.Domain, Status: "the server"}, true, nil
}

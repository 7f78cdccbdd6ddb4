package roster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"mellium.im/xmpp/jid"
)

// Subscription is the subscription attribute of a roster item (RFC 6121 §2.1.2.5).
type Subscription string

// The subscription states, and Remove, which only a roster set or push carries.
const (
	None   Subscription = "none"
	To     Subscription = "to"
	From   Subscription = "from"
	Both   Subscription = "both"
	Remove Subscription = "remove"
)

// Bounds of what a client may store, so that a roster stays a size a server can hold.
const (
	// MaxItems bounds the entries of one account.
	MaxItems = 2000
	// MaxGroups bounds the groups of one item.
	MaxGroups = 32
	// MaxNameLen bounds an item's name and a group's name, in bytes.
	MaxNameLen = 1023
	// MaxGroupMembers bounds the members of a group JoinGroup subscribes to each other.
	MaxGroupMembers = 500
)

// Errors of the Service.
var (
	// ErrNotFound means the owner has no such roster item.
	ErrNotFound = errors.New("no such roster item")
	// ErrInvalid means the request is malformed: a contact that is not a bare JID,
	// the owner itself, a name or group too long or empty.
	ErrInvalid = errors.New("invalid roster item")
	// ErrTooMany means the roster is full.
	ErrTooMany = errors.New("the roster is full")
	// ErrRemote means the contact is on another server, which this one cannot reach.
	ErrRemote = errors.New("contacts on other servers cannot be reached")
)

// Entry is what the server keeps about one contact of one account.
type Entry struct {
	// Contact is the contact's bare JID.
	Contact string
	// Name is the name the owner gave the contact.
	Name string
	// Groups are the owner's groups the contact is in.
	Groups []string
	// To means the owner receives the contact's presence.
	To bool
	// From means the contact receives the owner's presence.
	From bool
	// Ask means the owner asked for the contact's presence and had no answer yet.
	Ask bool
	// PendingIn means the contact asked for the owner's presence and the owner has
	// not answered yet.
	PendingIn bool
	// Approved means the owner approved a subscription request the contact has not
	// sent yet (pre-approval, RFC 6121 §3.4).
	Approved bool
	// Listed means the entry is a roster item; an entry that only holds a pending
	// request is not.
	Listed bool
}

// Subscription returns the entry's subscription state.
func (e Entry) Subscription() Subscription {
	switch {
	case e.To && e.From:
		return Both
	case e.To:
		return To
	case e.From:
		return From
	}
	return None
}

// Item returns the entry as the owner's client sees it.
func (e Entry) Item() Item {
	return Item{JID: e.Contact, Name: e.Name, Groups: slices.Clone(e.Groups), Subscription: e.Subscription(), Ask: e.Ask, Approved: e.Approved}
}

// Empty reports whether the entry holds nothing worth keeping.
func (e Entry) Empty() bool {
	return !e.Listed && !e.PendingIn
}

// Item is a roster item as the protocol shows it (RFC 6121 §2.1.2).
type Item struct {
	// JID is the contact's bare JID.
	JID string
	// Name is the owner's name for the contact.
	Name string
	// Groups are the owner's groups the contact is in.
	Groups []string
	// Subscription is the state, or Remove in a push of a removed item.
	Subscription Subscription
	// Ask is ask='subscribe'.
	Ask bool
	// Approved is approved='true'.
	Approved bool
}

// Pair is both sides of one subscription, as a Store hands them to an update.
type Pair struct {
	// Owner and Contact are bare JIDs.
	Owner, Contact string
	// OC is the owner's entry about the contact; its zero value (with Contact set)
	// when there is none.
	OC Entry
	// CO is the contact's entry about the owner, as OC; kept only when ContactLocal.
	CO Entry
	// ContactLocal says whether the contact is an account of this server.
	ContactLocal bool
	// OwnerItems is how many entries the owner has, OC included if it exists.
	OwnerItems int
}

// Store keeps entries; package accounts implements it in the account database.
type Store interface {
	// Entries returns every entry of owner, in a stable order.
	Entries(ctx context.Context, owner string) ([]Entry, error)
	// UpdatePair loads both sides of owner and contact, calls fn, and stores what fn
	// left in one transaction: an entry that is Empty is deleted, CO is stored only
	// when ContactLocal. When fn returns an error nothing is stored.
	UpdatePair(ctx context.Context, owner, contact string, fn func(*Pair) error) error
	// GroupMembers returns the members of group.
	GroupMembers(ctx context.Context, group string) ([]string, error)
	// AddGroupMember puts addr in group (nothing if it is there already).
	AddGroupMember(ctx context.Context, group, addr string) error
}

// Push is a roster push: Item changed in Owner's roster.
type Push struct {
	// Owner is the account whose roster changed.
	Owner string
	// Item is the item as it is now (Subscription Remove when it was removed).
	Item Item
}

// Stanza is a subscription stanza to deliver to To's available resources.
type Stanza struct {
	// From and To are bare JIDs.
	From, To string
	// Type is subscribe, subscribed, unsubscribe or unsubscribed.
	Type string
	// Original means it is the stanza the client sent (deliver it with what it
	// carries); otherwise the server makes it.
	Original bool
}

// Share names whose presence goes to whom: Of's available resources to To's.
type Share struct {
	// Of and To are bare JIDs.
	Of, To string
}

// Effects are what an operation asks the online sessions to see.
type Effects struct {
	// Pushes are roster pushes, in order.
	Pushes []Push
	// Stanzas are subscription stanzas to deliver, in order.
	Stanzas []Stanza
	// Share lists presence that now flows: send Of's current presence to To.
	Share []Share
	// Unshare lists presence that stopped flowing: send unavailable from Of to To.
	Unshare []Share
}

// add appends the effects of o.
func (e *Effects) add(o Effects) {
	e.Pushes = append(e.Pushes, o.Pushes...)
	e.Stanzas = append(e.Stanzas, o.Stanzas...)
	e.Share = append(e.Share, o.Share...)
	e.Unshare = append(e.Unshare, o.Unshare...)
}

// Service applies RFC 6121 rosters and subscriptions over a Store for one domain.
type Service struct {
	store  Store
	domain string
}

// New returns a Service for the accounts of domain.
func New(store Store, domain string) (*Service, error) {
	if store == nil {
		return nil, errors.New("roster: no store")
	}
	d, err := jid.Parse(domain)
	if err != nil || d.Localpart() != "" || d.Resourcepart() != "" {
		return nil, fmt.Errorf("roster: invalid domain %q", domain)
	}
	return &Service{store: store, domain: d.String()}, nil
}

// Bare returns the canonical bare JID of addr, which must be an account address
// (a localpart, no resource).
func Bare(addr string) (string, error) {
	j, err := jid.Parse(addr)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if j.Localpart() == "" {
		return "", fmt.Errorf("%w: %s is not an account", ErrInvalid, addr)
	}
	return j.Bare().String(), nil
}

// pair checks owner and contact and runs fn on their pair.
// A contact on another domain is ErrRemote unless remoteOK.
func (s *Service) pair(ctx context.Context, owner, contact string, remoteOK bool, fn func(*Pair, *Effects) error) (Effects, error) {
	o, err := Bare(owner)
	if err != nil {
		return Effects{}, err
	}
	c, err := Bare(contact)
	if err != nil {
		return Effects{}, err
	}
	if o == c {
		return Effects{}, fmt.Errorf("%w: an account is not its own contact", ErrInvalid)
	}
	if !remoteOK && !s.local(c) {
		return Effects{}, ErrRemote
	}
	var eff Effects
	err = s.store.UpdatePair(ctx, o, c, func(p *Pair) error {
		eff = Effects{}
		p.OC.Contact, p.CO.Contact = c, o
		return fn(p, &eff)
	})
	if err != nil {
		return Effects{}, fmt.Errorf("roster: %w", err)
	}
	return eff, nil
}

// local reports whether the bare JID c is on this server's domain.
func (s *Service) local(c string) bool {
	_, domain, ok := strings.Cut(c, "@")
	return ok && domain == s.domain
}

// Get returns owner's roster items.
func (s *Service) Get(ctx context.Context, owner string) ([]Item, error) {
	entries, err := s.entries(ctx, owner)
	if err != nil {
		return nil, err
	}
	var items []Item
	for _, e := range entries {
		if e.Listed {
			items = append(items, e.Item())
		}
	}
	return items, nil
}

func (s *Service) entries(ctx context.Context, owner string) ([]Entry, error) {
	o, err := Bare(owner)
	if err != nil {
		return nil, err
	}
	entries, err := s.store.Entries(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	return entries, nil
}

// contacts returns the contacts of owner whose entry passes keep.
func (s *Service) contacts(ctx context.Context, owner string, keep func(Entry) bool) ([]string, error) {
	entries, err := s.entries(ctx, owner)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if keep(e) {
			out = append(out, e.Contact)
		}
	}
	return out, nil
}

// Subscribers returns the contacts that receive owner's presence (from or both).
func (s *Service) Subscribers(ctx context.Context, owner string) ([]string, error) {
	return s.contacts(ctx, owner, func(e Entry) bool { return e.From })
}

// Subscriptions returns the contacts whose presence owner receives (to or both):
// those an initial presence probes.
func (s *Service) Subscriptions(ctx context.Context, owner string) ([]string, error) {
	return s.contacts(ctx, owner, func(e Entry) bool { return e.To })
}

// Pending returns the contacts whose subscription request owner has not answered;
// they are delivered again when owner comes online.
func (s *Service) Pending(ctx context.Context, owner string) ([]string, error) {
	return s.contacts(ctx, owner, func(e Entry) bool { return e.PendingIn })
}

// checkItem validates a name and groups a client sent.
func checkItem(name string, groups []string) ([]string, error) {
	if len(name) > MaxNameLen || !utf8.ValidString(name) {
		return nil, fmt.Errorf("%w: name too long", ErrInvalid)
	}
	if len(groups) > MaxGroups {
		return nil, fmt.Errorf("%w: more than %d groups", ErrInvalid, MaxGroups)
	}
	var out []string
	for _, g := range groups {
		if g == "" || len(g) > MaxNameLen || !utf8.ValidString(g) {
			return nil, fmt.Errorf("%w: a group name is empty or too long", ErrInvalid)
		}
		if slices.Contains(out, g) {
			return nil, fmt.Errorf("%w: group %q twice", ErrInvalid, g)
		}
		out = append(out, g)
	}
	return out, nil
}

// list makes p.OC a roster item, within MaxItems.
func list(p *Pair) error {
	if p.OC.Listed {
		return nil
	}
	n := p.OwnerItems
	if p.OC.PendingIn {
		n-- // the entry exists already
	}
	if n >= MaxItems {
		return ErrTooMany
	}
	p.OC.Listed = true
	return nil
}

// Set adds the item or changes its name and groups (RFC 6121 §2.3, §2.4); the
// subscription is not changed by a set.
func (s *Service) Set(ctx context.Context, owner string, it Item) (Effects, error) {
	groups, err := checkItem(it.Name, it.Groups)
	if err != nil {
		return Effects{}, err
	}
	return s.pair(ctx, owner, it.JID, true, func(p *Pair, eff *Effects) error {
		if err := list(p); err != nil {
			return err
		}
		p.OC.Name, p.OC.Groups = it.Name, groups
		eff.Pushes = append(eff.Pushes, Push{Owner: p.Owner, Item: p.OC.Item()})
		return nil
	})
}

// Remove deletes the item, cancelling the subscriptions both ways (RFC 6121 §2.5).
func (s *Service) Remove(ctx context.Context, owner, contact string) (Effects, error) {
	return s.pair(ctx, owner, contact, true, func(p *Pair, eff *Effects) error {
		if !p.OC.Listed {
			return ErrNotFound
		}
		if p.OC.To || p.OC.Ask {
			unsubscribe(p, eff)
		}
		if p.OC.From || p.OC.PendingIn || p.OC.Approved {
			unsubscribed(p, eff)
		}
		p.OC = Entry{Contact: p.Contact}
		eff.Pushes = append(eff.Pushes, Push{Owner: p.Owner, Item: Item{JID: p.Contact, Subscription: Remove}})
		return nil
	})
}

// Subscribe is owner's request for contact's presence (RFC 6121 §3.1): the item gets
// ask='subscribe' and the request goes to the contact, or is answered at once when
// the contact approved it already (subscription from, or a pre-approval).
// A contact of this domain that has no account answers unsubscribed.
func (s *Service) Subscribe(ctx context.Context, owner, contact string) (Effects, error) {
	return s.pair(ctx, owner, contact, false, func(p *Pair, eff *Effects) error {
		if !p.OC.To && (!p.OC.Ask || !p.OC.Listed) {
			if err := list(p); err != nil {
				return err
			}
			p.OC.Ask = true
			eff.Pushes = append(eff.Pushes, Push{Owner: p.Owner, Item: p.OC.Item()})
		}
		switch {
		case !p.ContactLocal:
			// No such account: the contact's server answers unsubscribed (§3.1.3).
			inboundUnsubscribed(p, eff, false)
		case p.CO.From:
			inboundSubscribed(p, eff, false)
		case p.CO.Approved:
			p.CO.From, p.CO.Approved = true, false
			eff.Pushes = append(eff.Pushes, Push{Owner: p.Contact, Item: p.CO.Item()})
			inboundSubscribed(p, eff, false)
		case !p.CO.PendingIn:
			p.CO.PendingIn = true
			eff.Stanzas = append(eff.Stanzas, Stanza{From: p.Owner, To: p.Contact, Type: "subscribe", Original: true})
		}
		return nil
	})
}

// inboundSubscribed is the contact's approval arriving at the owner: the owner now
// receives the contact's presence.
func inboundSubscribed(p *Pair, eff *Effects, original bool) {
	if !p.OC.Ask {
		return // not asked for (§3.1.6): ignored
	}
	p.OC.To, p.OC.Ask = true, false
	eff.Pushes = append(eff.Pushes, Push{Owner: p.Owner, Item: p.OC.Item()})
	eff.Stanzas = append(eff.Stanzas, Stanza{From: p.Contact, To: p.Owner, Type: "subscribed", Original: original})
	eff.Share = append(eff.Share, Share{Of: p.Contact, To: p.Owner})
}

// inboundUnsubscribed is the contact's refusal or cancellation arriving at the owner.
func inboundUnsubscribed(p *Pair, eff *Effects, original bool) {
	if !p.OC.To && !p.OC.Ask {
		return
	}
	p.OC.To, p.OC.Ask = false, false
	eff.Pushes = append(eff.Pushes, Push{Owner: p.Owner, Item: p.OC.Item()})
	eff.Stanzas = append(eff.Stanzas, Stanza{From: p.Contact, To: p.Owner, Type: "unsubscribed", Original: original})
}

// flip returns the pair seen from the contact's side.
func flip(p *Pair) *Pair {
	return &Pair{Owner: p.Contact, Contact: p.Owner, OC: p.CO, CO: p.OC, ContactLocal: true}
}

// unflip copies back the entries of a flipped pair.
func unflip(p, f *Pair) { p.OC, p.CO = f.CO, f.OC }

// Subscribed is owner's approval of contact's request (RFC 6121 §3.1.5), or, with no
// request pending, a pre-approval (§3.4).
func (s *Service) Subscribed(ctx context.Context, owner, contact string) (Effects, error) {
	return s.pair(ctx, owner, contact, false, func(p *Pair, eff *Effects) error {
		switch {
		case p.OC.From:
			return nil
		case p.OC.PendingIn:
			if err := list(p); err != nil {
				return err
			}
			p.OC.From, p.OC.PendingIn, p.OC.Approved = true, false, false
			eff.Pushes = append(eff.Pushes, Push{Owner: p.Owner, Item: p.OC.Item()})
			if p.ContactLocal {
				f := flip(p)
				inboundSubscribed(f, eff, true)
				unflip(p, f)
			}
		case !p.OC.Approved:
			if err := list(p); err != nil {
				return err
			}
			p.OC.Approved = true
			eff.Pushes = append(eff.Pushes, Push{Owner: p.Owner, Item: p.OC.Item()})
		}
		return nil
	})
}

// Unsubscribe is owner's cancellation of its subscription to contact (RFC 6121 §3.3).
func (s *Service) Unsubscribe(ctx context.Context, owner, contact string) (Effects, error) {
	return s.pair(ctx, owner, contact, false, func(p *Pair, eff *Effects) error {
		unsubscribe(p, eff)
		return nil
	})
}

// unsubscribe clears the owner's side and tells the contact.
func unsubscribe(p *Pair, eff *Effects) {
	if p.OC.To || p.OC.Ask {
		p.OC.To, p.OC.Ask = false, false
		if p.OC.Listed {
			eff.Pushes = append(eff.Pushes, Push{Owner: p.Owner, Item: p.OC.Item()})
		}
	}
	if !p.ContactLocal || (!p.CO.From && !p.CO.PendingIn) {
		return
	}
	wasFrom := p.CO.From
	p.CO.From, p.CO.PendingIn = false, false
	if p.CO.Listed {
		eff.Pushes = append(eff.Pushes, Push{Owner: p.Contact, Item: p.CO.Item()})
	}
	eff.Stanzas = append(eff.Stanzas, Stanza{From: p.Owner, To: p.Contact, Type: "unsubscribe", Original: true})
	if wasFrom {
		eff.Unshare = append(eff.Unshare, Share{Of: p.Contact, To: p.Owner})
	}
}

// Unsubscribed is owner's refusal of contact's request, or its cancellation of the
// contact's subscription (RFC 6121 §3.2); it also drops a pre-approval.
func (s *Service) Unsubscribed(ctx context.Context, owner, contact string) (Effects, error) {
	return s.pair(ctx, owner, contact, false, func(p *Pair, eff *Effects) error {
		unsubscribed(p, eff)
		return nil
	})
}

// unsubscribed clears the owner's side and tells the contact.
func unsubscribed(p *Pair, eff *Effects) {
	if !p.OC.From && !p.OC.PendingIn && !p.OC.Approved {
		return
	}
	wasFrom := p.OC.From
	p.OC.From, p.OC.PendingIn, p.OC.Approved = false, false, false
	if p.OC.Listed {
		eff.Pushes = append(eff.Pushes, Push{Owner: p.Owner, Item: p.OC.Item()})
	}
	if wasFrom {
		eff.Unshare = append(eff.Unshare, Share{Of: p.Owner, To: p.Contact})
	}
	if p.ContactLocal {
		f := flip(p)
		inboundUnsubscribed(f, eff, true)
		unflip(p, f)
	}
}

// Mutual subscribes a and b, two accounts of this server, to each other
// (subscription both on both sides), adding groups to both items: what XEP-0401 §5.5
// asks when a contact invite is redeemed.
// Requests pending between them are settled by it.
func (s *Service) Mutual(ctx context.Context, a, b string, groups ...string) (Effects, error) {
	groups, err := checkItem("", groups)
	if err != nil {
		return Effects{}, err
	}
	return s.pair(ctx, a, b, false, func(p *Pair, eff *Effects) error {
		if !p.ContactLocal {
			return fmt.Errorf("%w: %s has no account", ErrInvalid, p.Contact)
		}
		if err := list(p); err != nil {
			return err
		}
		p.CO.Listed = true
		befriend(&p.OC, p.Owner, groups, eff)
		befriend(&p.CO, p.Contact, groups, eff)
		return nil
	})
}

// befriend makes e, owner's entry, a mutual subscription in groups.
func befriend(e *Entry, owner string, groups []string, eff *Effects) {
	for _, g := range groups {
		if !slices.Contains(e.Groups, g) && len(e.Groups) < MaxGroups {
			e.Groups = append(e.Groups, g)
		}
	}
	if !e.To {
		eff.Share = append(eff.Share, Share{Of: e.Contact, To: owner})
	}
	e.To, e.From, e.Ask, e.PendingIn, e.Approved = true, true, false, false, false
	eff.Pushes = append(eff.Pushes, Push{Owner: owner, Item: e.Item()})
}

// JoinGroup puts addr in group and subscribes it and every other member to each
// other, with the group as a roster group on both sides (a Snikket circle).
// At most MaxGroupMembers members are subscribed.
func (s *Service) JoinGroup(ctx context.Context, group, addr string) (Effects, error) {
	a, err := Bare(addr)
	if err != nil {
		return Effects{}, err
	}
	if _, err := checkItem("", []string{group}); err != nil {
		return Effects{}, err
	}
	members, err := s.store.GroupMembers(ctx, group)
	if err != nil {
		return Effects{}, fmt.Errorf("roster: %w", err)
	}
	if err := s.store.AddGroupMember(ctx, group, a); err != nil {
		return Effects{}, fmt.Errorf("roster: %w", err)
	}
	var eff Effects
	for i, m := range members {
		if i >= MaxGroupMembers {
			break
		}
		if m == a {
			continue
		}
		e, err := s.Mutual(ctx, a, m, group)
		if err != nil {
			return eff, err
		}
		eff.add(e)
	}
	return eff, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/c2s"
	"github.com/xmpp-invites/invites/plugin"
)

// This file is where xmppd turns what the invites plugin says about a redeemed
// invite into accounts' rosters: XEP-0401 §5.5 (a contact invite redeemed by
// registration subscribes the new account and the inviter to each other) and
// XEP-0379 (an account that exists redeems a contact invite with its subscription
// request). The plugin tells what an invite means; the host owns rosters.
//
// Contract v2 changes three things here, each kept in one function:
//   - inviterJID: plugin.Invite.Inviter becomes a bare JID (today a localpart);
//   - inviteGroups: plugin.Invite gains Groups, which the new account joins;
//   - contactInvites.RedeemContact: RedeemInvite(ctx, plugin.Redemption{…,
//     Purpose: plugin.PurposeSubscribe}) redeems for an existing account, which
//     contract v1 cannot do.

// inviteHooks applies redeemed invites to accounts through the c2s server, which
// knows the online sessions that get the roster pushes.
type inviteHooks struct {
	domain string
	srv    *c2s.Server // set once the server exists, before it serves
}

// welcome implements register.Config.Welcome: the new account and the invite's
// inviter are subscribed to each other, and the account joins the invite's groups.
func (h *inviteHooks) welcome(ctx context.Context, account string, inv plugin.Invite) error {
	if h.srv == nil {
		return errors.New("the server is not running")
	}
	return h.srv.Welcome(ctx, account, inviterJID(inv, h.domain), inviteGroups(inv))
}

// inviterJID returns the bare JID of the invite's inviter, or "" when it names none.
// Contract v1 gives the inviter's localpart on the invite's host; v2 a bare JID.
// A name that is not an account address is no inviter.
func inviterJID(inv plugin.Invite, domain string) string {
	addr := inv.Inviter
	switch {
	case addr == "":
		return ""
	case !strings.Contains(addr, "@"):
		host := inv.Host
		if host == "" {
			host = domain
		}
		addr += "@" + host
	}
	bare, err := accounts.Normalize(addr)
	if err != nil {
		return ""
	}
	return bare
}

// inviteGroups returns the groups (circles) the invite puts the new account in.
// Contract v1 has none; v2 adds plugin.Invite.Groups: return inv.Groups here.
func inviteGroups(plugin.Invite) []string { return nil }

// errSubscribeUnsupported is what contactInvites answers under contract v1.
var errSubscribeUnsupported = errors.New("redeeming a contact invite for an existing account needs contract v2 of the invites plugin")

// contactInvites implements c2s.ContactInvites: an account that exists sends its
// subscription request to the inviter with the invite's token (XEP-0379).
type contactInvites struct{}

var _ c2s.ContactInvites = contactInvites{}

// RedeemContact implements c2s.ContactInvites.
// Under contract v1 it cannot: the request then reaches the inviter as an ordinary
// one, for the inviter to approve. With contract v2 it becomes:
//
//	inv, err := p.RedeemInvite(ctx, plugin.Redemption{Host: host, Token: token,
//		Username: localpart(requester), Purpose: plugin.PurposeSubscribe})
//	return inviterJID(inv, host), inviteGroups(inv), err
func (contactInvites) RedeemContact(_ context.Context, host, _, requester string) (string, []string, error) {
	return "", nil, fmt.Errorf("%s on %s: %w", requester, host, errSubscribeUnsupported)
}

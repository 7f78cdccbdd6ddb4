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
// registration subscribes the new account and the inviter to each other), groups
// (circles: the new account and each group's members subscribed to each other), and
// XEP-0379 (an account that exists redeems a contact invite with its subscription
// request). The plugin tells what an invite means; the host owns rosters.

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
	return h.srv.Welcome(ctx, account, inviterJID(inv, h.domain), inv.Groups)
}

// inviterJID returns the bare JID of the invite's inviter, or "" when it names none
// or names something that is not an account address.
// The plugin gives a bare JID; a lone localpart is taken on the invite's host.
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

// redeemer is what contactInvites needs of the plugin.
type redeemer interface {
	RedeemInvite(ctx context.Context, r plugin.Redemption) (plugin.Invite, error)
}

// contactInvites implements c2s.ContactInvites: an account that exists sends its
// subscription request to the inviter with the invite's token (XEP-0379), which
// the plugin redeems for that account (plugin.PurposeSubscribe).
type contactInvites struct{ invites redeemer }

var _ c2s.ContactInvites = contactInvites{}

// RedeemContact implements c2s.ContactInvites.
func (c contactInvites) RedeemContact(ctx context.Context, host, token, requester string) (string, []string, error) {
	bare, err := accounts.Normalize(requester)
	if err != nil {
		return "", nil, err
	}
	local, _, _ := strings.Cut(bare, "@")
	inv, err := c.invites.RedeemInvite(ctx, plugin.Redemption{
		Host: host, Token: token, Username: local, Purpose: plugin.PurposeSubscribe,
	})
	if err != nil {
		return "", nil, fmt.Errorf("redeeming the contact invite for %s: %w", bare, err)
	}
	inviter := inviterJID(inv, host)
	if inviter == "" {
		return "", nil, fmt.Errorf("redeeming the contact invite for %s: %w: it names no inviter", bare, plugin.ErrUsernameNotAllowed)
	}
	return inviter, inv.Groups, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/internal/commands/session"
	"github.com/xmpp-invites/invites/plugin"
)

// This file is xmppd's own ad-hoc commands: the account administration of XEP-0133
// that the server does itself (delete, disable and re-enable users), beside the
// plugin's commands. Each change is made by the server and told to the plugin as a
// host event (the plugin records what other means did to accounts).

// The nodes of XEP-0133 §4.4, §4.5 and §4.6, and its form type.
const (
	nodeDeleteUser   = "http://jabber.org/protocol/admin#delete-user"
	nodeDisableUser  = "http://jabber.org/protocol/admin#disable-user"
	nodeReenableUser = "http://jabber.org/protocol/admin#reenable-user"
	formTypeAdmin    = "http://jabber.org/protocol/admin"
)

// maxAdminJIDs bounds the accounts one command changes.
const maxAdminJIDs = 100

// adminAction is what one admin command does to one account: it returns a line for
// the result, and the event to tell the plugin ("" for none: nothing changed).
type adminAction func(ctx context.Context, bare string) (line string, event plugin.EventType, err error)

// newAdminCommands returns xmppd's own commands, run by the session engine the
// plugin's commands use too; notify tells the plugin what changed.
func newAdminCommands(api *hostAPI, notify func(ctx context.Context, t plugin.EventType, jid, lang string), logger *slog.Logger) (*session.Server, error) {
	cmd := func(node, name, label string, act adminAction) session.Definition {
		return session.Definition{
			Node: node,
			Name: name,
			Role: adhoc.RoleAdmin,
			Stages: []session.Stage{{Form: func(context.Context, session.Call, []*adhoc.Form) (*adhoc.Form, error) {
				return &adhoc.Form{
					Type:  adhoc.FormForm,
					Title: name,
					Fields: []adhoc.Field{
						{Var: "FORM_TYPE", Type: adhoc.FieldHidden, Values: []string{formTypeAdmin}},
						{Var: "accountjids", Type: adhoc.FieldJIDMulti, Label: label, Required: true},
					},
				}, nil
			}}},
			Complete: func(ctx context.Context, call session.Call, forms []*adhoc.Form) (session.Result, error) {
				return runAdmin(ctx, api, call, forms, act, notify, logger)
			},
		}
	}
	return session.NewServer([]session.Definition{
		cmd(nodeDeleteUser, "Delete User", "The accounts to delete", api.adminDelete),
		cmd(nodeDisableUser, "Disable User", "The accounts to disable", api.adminSetState(accounts.StateDisabled)),
		cmd(nodeReenableUser, "Re-Enable User", "The accounts to enable again", api.adminSetState(accounts.StateActive)),
	}, session.Options{Logger: logger})
}

// runAdmin checks every address submitted, then applies act to each: a bad address
// shows the form again and changes nothing.
func runAdmin(ctx context.Context, api *hostAPI, call session.Call, forms []*adhoc.Form, act adminAction,
	notify func(ctx context.Context, t plugin.EventType, jid, lang string), logger *slog.Logger) (session.Result, error) {
	var values []string
	if len(forms) > 0 && forms[0] != nil {
		if f, ok := forms[0].Field("accountjids"); ok {
			values = f.Values
		}
	}
	var addrs []string
	var bad []string
	for _, v := range values {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		bare, err := api.account(v)
		switch {
		case err != nil:
			bad = append(bad, err.Error())
		case slices.Contains(api.admins, bare):
			bad = append(bad, bare+" is an administrator of this server: take it out of the configuration first")
		case !slices.Contains(addrs, bare):
			addrs = append(addrs, bare)
		}
	}
	switch {
	case len(bad) > 0:
		return session.Result{}, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: strings.Join(bad, "; ")}
	case len(addrs) == 0:
		return session.Result{}, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "give at least one account, such as alice@" + api.domain}
	case len(addrs) > maxAdminJIDs:
		return session.Result{}, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: fmt.Sprintf("at most %d accounts at once", maxAdminJIDs)}
	}
	var notes []adhoc.Note
	for _, bare := range addrs {
		line, event, err := act(ctx, bare)
		if err != nil {
			logger.ErrorContext(ctx, "administering an account", "node", call.Node, "jid", bare, "by", call.Requester, "err", err)
			notes = append(notes, adhoc.Note{Type: adhoc.NoteError, Text: bare + ": the server could not do it; its log says why."})
			continue
		}
		logger.InfoContext(ctx, "account administered", "node", call.Node, "jid", bare, "by", call.Requester, "result", line)
		if event != "" {
			notify(ctx, event, bare, "")
		}
		notes = append(notes, adhoc.Note{Type: adhoc.NoteInfo, Text: line})
	}
	return session.Result{Notes: notes}, nil
}

// adminDelete deletes an account for XEP-0133's delete-user.
func (h *hostAPI) adminDelete(ctx context.Context, bare string) (string, plugin.EventType, error) {
	deleted, err := h.deleteAccount(ctx, bare)
	switch {
	case err != nil:
		return "", "", err
	case !deleted:
		return bare + ": no such account.", "", nil
	}
	return bare + ": deleted.", plugin.EventAccountDeleted, nil
}

// adminSetState disables or enables an account for XEP-0133's disable-user and
// reenable-user.
func (h *hostAPI) adminSetState(st accounts.State) adminAction {
	return func(ctx context.Context, bare string) (string, plugin.EventType, error) {
		before, err := h.setState(ctx, bare, st)
		switch {
		case errors.Is(err, accounts.ErrNotFound):
			return bare + ": no such account.", "", nil
		case err != nil:
			return "", "", err
		case before == st && st == accounts.StateDisabled:
			return bare + ": already disabled.", "", nil
		case before == st:
			return bare + ": already enabled.", "", nil
		case st == accounts.StateDisabled:
			return bare + ": disabled.", plugin.EventAccountDisabled, nil
		}
		return bare + ": enabled.", plugin.EventAccountEnabled, nil
	}
}

// serverCommands runs xmppd's own commands beside the plugin's: it implements
// adhoc.Executor for the ad-hoc handler of each stream.
type serverCommands struct {
	own    *session.Server
	plugin adhoc.Executor
	log    *slog.Logger
}

// ownNode reports whether node is one of xmppd's own commands.
func ownNode(node string) bool {
	switch node {
	case nodeDeleteUser, nodeDisableUser, nodeReenableUser:
		return true
	}
	return false
}

// Commands implements adhoc.Executor: the server's own commands for administrators,
// then the plugin's; while the plugin is down, the server's own alone.
func (s serverCommands) Commands(ctx context.Context, host, requester string, role adhoc.Role) ([]adhoc.Command, error) {
	own, err := s.own.Commands(ctx, host, requester, role)
	if err != nil {
		return nil, err
	}
	theirs, err := s.plugin.Commands(ctx, host, requester, role)
	if err != nil {
		if len(own) == 0 {
			return nil, err
		}
		s.log.WarnContext(ctx, "listing the invites plugin's commands", "err", err)
	}
	return append(own, theirs...), nil
}

// Execute implements adhoc.Executor: a request goes to whoever runs its command.
func (s serverCommands) Execute(ctx context.Context, host string, req adhoc.Request) (adhoc.Response, error) {
	if ownNode(req.Node) {
		return s.own.Execute(ctx, host, req)
	}
	return s.plugin.Execute(ctx, host, req)
}

var _ adhoc.Executor = serverCommands{}

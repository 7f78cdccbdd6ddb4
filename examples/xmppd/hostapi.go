package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/c2s"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/scram"
	"github.com/xmpp-invites/invites/host"
	"github.com/xmpp-invites/invites/plugin"
)

// invites is what xmppd uses of the loaded plugin: its HTTP routes, the ad-hoc
// commands, redemption and the password policy for registration, the server's
// events, and shutdown.
type invites interface {
	adhoc.Executor
	register.Invites
	// Notify queues events for the plugin.
	Notify(ctx context.Context, events ...plugin.Event) error
	// Mount routes the plugin's HTTP paths on mux.
	Mount(mux *http.ServeMux)
	// MountOperations routes /metrics, /healthz and /readyz on mux.
	MountOperations(mux *http.ServeMux)
	// Manifest says which paths the plugin serves (the invite page among them or not).
	Manifest() plugin.Manifest
	// Close stops the plugin.
	Close() error
}

var _ invites = (*host.Plugin)(nil)

// hostAPI is the server as the plugin sees it (plugin.HostAPI): which accounts exist,
// and registration (or a password reset) with an invite for the plugin's web page;
// the states of accounts (plugin.AccountAdmin) and messages to them
// (plugin.Messenger); and, for the ad-hoc commands, who is an administrator.
type hostAPI struct {
	domain   string
	admins   []string // canonical bare JIDs
	accounts *accounts.Store
	// reg registers accounts as in-band registration does; set once the plugin is
	// loaded (registration needs it), nil before.
	reg atomic.Pointer[register.Service]
	// srv is the client server, which ends sessions and delivers messages; set once
	// it exists, nil before.
	srv atomic.Pointer[c2s.Server]
}

var (
	_ plugin.HostAPI      = (*hostAPI)(nil)
	_ plugin.AccountAdmin = (*hostAPI)(nil)
	_ plugin.Messenger    = (*hostAPI)(nil)
)

// Texts of the stream errors that end the sessions of an account.
const (
	textEndDisabled = "This account was disabled by an administrator."
	textEndPending  = "This account is waiting for an administrator's approval."
	textEndDeleted  = "This account was deleted."
)

// account returns the canonical bare JID of addr, an account of the domain, or an
// error saying what is wrong with it.
func (h *hostAPI) account(addr string) (string, error) {
	bare, err := accounts.Normalize(addr)
	if err != nil {
		return "", fmt.Errorf("%q is not an account's address (user@%s)", addr, h.domain)
	}
	if _, domain, _ := strings.Cut(bare, "@"); domain != h.domain {
		return "", fmt.Errorf("%s is not on this server's domain %s", bare, h.domain)
	}
	return bare, nil
}

// endSessions ends the sessions of bare, when the server runs.
func (h *hostAPI) endSessions(bare, text string) {
	if srv := h.srv.Load(); srv != nil {
		srv.EndSessions(bare, text)
	}
}

// setState makes bare active, disabled or pending and ends its sessions unless it is
// active; it returns the state before.
func (h *hostAPI) setState(ctx context.Context, bare string, st accounts.State) (accounts.State, error) {
	before, err := h.accounts.SetState(ctx, bare, st)
	if err != nil {
		return "", err
	}
	switch st {
	case accounts.StateDisabled:
		h.endSessions(bare, textEndDisabled)
	case accounts.StatePending:
		h.endSessions(bare, textEndPending)
	}
	return before, nil
}

// deleteAccount deletes bare with its roster and its place in others', ends its
// sessions and tells its contacts' sessions; false when there was no such account.
func (h *hostAPI) deleteAccount(ctx context.Context, bare string) (bool, error) {
	listedBy, err := h.accounts.Delete(ctx, bare)
	if errors.Is(err, accounts.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if srv := h.srv.Load(); srv != nil {
		srv.EndSessions(bare, textEndDeleted)
		srv.RemovedFromRosters(ctx, bare, listedBy)
	}
	return true, nil
}

// SetAccountState implements plugin.AccountAdmin: a disabled or pending account's
// sessions end at once, and its logins are refused saying why.
func (h *hostAPI) SetAccountState(ctx context.Context, addr string, state plugin.AccountState) error {
	bare, err := h.account(addr)
	if err != nil {
		return err
	}
	var st accounts.State
	switch state {
	case plugin.AccountActive:
		st = accounts.StateActive
	case plugin.AccountDisabled:
		st = accounts.StateDisabled
	case plugin.AccountPending:
		st = accounts.StatePending
	default:
		return fmt.Errorf("%q is not a state an account can be put in: active, disabled or pending", state)
	}
	if _, err := h.setState(ctx, bare, st); err != nil {
		if errors.Is(err, accounts.ErrNotFound) {
			return fmt.Errorf("there is no account %s", bare)
		}
		return fmt.Errorf("changing the state of %s: %w", bare, err)
	}
	return nil
}

// DeleteAccount implements plugin.AccountAdmin: the account, its roster and its
// items in other rosters go, and its name is free.
func (h *hostAPI) DeleteAccount(ctx context.Context, addr string) error {
	bare, err := h.account(addr)
	if err != nil {
		return err
	}
	if _, err := h.deleteAccount(ctx, bare); err != nil {
		return fmt.Errorf("deleting %s: %w", bare, err)
	}
	return nil
}

// AccountState implements plugin.AccountAdmin.
func (h *hostAPI) AccountState(ctx context.Context, addr string) (plugin.AccountState, error) {
	bare, err := h.account(addr)
	if err != nil {
		return plugin.AccountNone, nil
	}
	st, err := h.accounts.State(ctx, bare)
	if err != nil {
		return "", fmt.Errorf("looking up %s: %w", bare, err)
	}
	return plugin.AccountState(st), nil
}

// SendMessage implements plugin.Messenger: a chat message from the domain to the
// account m.To, or to every administrator when it is empty (administrators without
// an account are skipped), delivered at once or kept for the next login.
func (h *hostAPI) SendMessage(ctx context.Context, m plugin.Message) error {
	if m.Host != "" && m.Host != h.domain {
		return fmt.Errorf("this server does not serve %s", m.Host)
	}
	if strings.TrimSpace(m.Body) == "" {
		return errors.New("a message needs a body")
	}
	srv := h.srv.Load()
	if srv == nil {
		return fmt.Errorf("%w: the server is starting", plugin.ErrUnavailable)
	}
	if m.To != "" {
		bare, err := h.account(m.To)
		if err != nil {
			return err
		}
		return srv.SendMessage(ctx, bare, m.Subject, m.Body, m.Lang)
	}
	var errs []error
	for _, a := range h.admins {
		if err := srv.SendMessage(ctx, a, m.Subject, m.Body, m.Lang); err != nil && !errors.Is(err, accounts.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// role is what the server holds the JID bound to a stream for: administrators are
// configured, every other account of the domain is a user.
func (h *hostAPI) role(_ context.Context, bound jid.JID) (adhoc.Role, error) {
	if bound.Domainpart() != h.domain || bound.Localpart() == "" {
		return adhoc.RoleNone, nil
	}
	bare, err := accounts.Normalize(bound.Bare().String())
	if err != nil {
		return adhoc.RoleNone, nil
	}
	if slices.Contains(h.admins, bare) {
		return adhoc.RoleAdmin, nil
	}
	return adhoc.RoleUser, nil
}

// AccountExists implements plugin.HostAPI: an account in any state (active, disabled
// or pending approval) exists; a registration still in progress does not.
func (h *hostAPI) AccountExists(ctx context.Context, addr string) (bool, error) {
	st, err := h.accounts.State(ctx, addr)
	if err != nil {
		return false, fmt.Errorf("looking up the account: %w", err)
	}
	return st != accounts.StateNone, nil
}

// Register implements plugin.HostAPI: it runs in-band registration's flow (check the
// token, reserve the name, redeem the invite, activate the account), so a web
// registration has exactly its guarantees. For a reset invite it runs the flow of an
// in-band reset (derive the password, redeem the invite for the account, replace its
// credentials); r.Username may then be empty.
func (h *hostAPI) Register(ctx context.Context, r plugin.Registration) (string, error) {
	reg := h.reg.Load()
	if reg == nil {
		return "", fmt.Errorf("%w: registration is not ready", plugin.ErrUnavailable)
	}
	if r.Host != h.domain {
		return "", fmt.Errorf("%w: this server does not serve %s", plugin.ErrInviteNotFound, r.Host)
	}
	if r.Username != "" {
		if a, err := jid.New(r.Username, h.domain, ""); err != nil || a.Localpart() == "" {
			return "", plugin.ErrInvalidUsername
		}
	}
	if _, err := scram.PreparePassword(r.Password); err != nil {
		return "", plugin.ErrInvalidPassword
	}
	addr, err := reg.Register(ctx, r.Token, r.Username, r.Password)
	if err != nil {
		return "", registrationError(err, r.Username == "")
	}
	return addr, nil
}

// registrationError maps what in-band registration answers a client onto the
// contract's errors; a given name and the password were checked before, so a name
// refused as unacceptable is another than the invite's, or none at all (noName).
func registrationError(err error, noName bool) error {
	if pe, ok := errors.AsType[*plugin.PasswordError](err); ok {
		return pe // the policy's refusal, which matches plugin.ErrInvalidPassword
	}
	var se stanza.Error
	if !errors.As(err, &se) {
		return err
	}
	text := se.Text[""]
	switch se.Condition {
	case stanza.Conflict:
		return plugin.ErrAccountExists
	case stanza.ItemNotFound:
		return fmt.Errorf("%w: %s", plugin.ErrInviteNotFound, text)
	case stanza.NotAcceptable, stanza.NotAllowed:
		if noName {
			return fmt.Errorf("%w: %s", plugin.ErrInvalidUsername, text)
		}
		return fmt.Errorf("%w: %s", plugin.ErrUsernameNotAllowed, text)
	case stanza.ServiceUnavailable:
		return fmt.Errorf("%w: %s", plugin.ErrUnavailable, text)
	}
	return errors.New(text)
}

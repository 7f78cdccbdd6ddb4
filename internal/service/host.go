package service

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/page"
	"github.com/xmpp-invites/invites/internal/password"
	"github.com/xmpp-invites/invites/plugin"
)

// This file serves what the host asks of the plugin beyond invites (protocol version
// 3): the password policy for in-band registration (CheckPassword), worded as the web
// page words it, and the events of the host (Notify): the end of a client stream ends
// its ad-hoc sessions here; every event then goes to the state's EventHandler.

// EventHandler acts on the events a host sends (plugin.Invites.Notify), once they are
// checked and a stream's end has ended its ad-hoc sessions: the accounts' side of the
// plugin (first logins, confirmations of held redemptions, accounts deleted, disabled
// and enabled by other means).
// It is called with the whole batch, in the host's order; events are idempotent by
// their ID, since a host sends a batch again after a failure. An error that wraps
// plugin.ErrUnavailable makes the host send the batch again later; another refuses it.
type EventHandler func(ctx context.Context, events []plugin.Event) error

// maxEventBatch bounds the events of one Notify call.
const maxEventBatch = 1000

// maxEventID bounds an event's ID, in bytes.
const maxEventID = 128

// passwordCheck is the password policy of the [password] table, worded in the
// languages of the page's catalog (the same words as web registration).
type passwordCheck struct {
	policy *password.Policy
	words  *page.Catalog
}

// newPasswordCheck builds the policy of c and the catalog of its page: the page's
// languages, overlaid by its templates_dir; a page config it cannot read (unused when
// no host has the built-in page) falls back to the embedded messages.
func newPasswordCheck(c config.Config, hc plugin.Config) (*passwordCheck, error) {
	policy, err := password.New(c.Password)
	if err != nil {
		return nil, fmt.Errorf("config: password.%w", err)
	}
	dir := ""
	if hc.ConfigFile != "" {
		dir = filepath.Dir(hc.ConfigFile)
	}
	var words *page.Catalog
	if opts, err := c.Page.Options(dir); err == nil {
		words, err = page.NewCatalog(opts.Languages, opts.Templates)
		if err != nil {
			words = nil
		}
	}
	if words == nil {
		if words, err = page.NewCatalog(c.Page.Languages, nil); err != nil {
			if words, err = page.NewCatalog(nil, nil); err != nil {
				return nil, fmt.Errorf("the password policy's messages: %w", err)
			}
		}
	}
	return &passwordCheck{policy: policy, words: words}, nil
}

// CheckPassword implements plugin.Invites: it applies the password policy ([password])
// to a new password of c.Username on c.Host, and words a refusal in c.Lang (the best
// match of the page's languages) with the web page's words, every rule broken in one
// sentence each.
func (s *Service) CheckPassword(_ context.Context, c plugin.PasswordCheck) error {
	st, err := s.state()
	if err != nil {
		return err
	}
	if !slices.Contains(st.core.Hosts(), c.Host) {
		return fmt.Errorf("this plugin does not serve the host %q", c.Host)
	}
	err = st.passwords.policy.Check(c.Password, c.Username)
	if err == nil {
		return nil
	}
	pe := &plugin.PasswordError{Reason: strings.Join(st.passwords.words.Translator(c.Lang).PasswordRefusals(err), " ")}
	for _, r := range password.Reasons(err) {
		pe.Rules = append(pe.Rules, string(r.Rule))
	}
	if pe.Reason == "" {
		return fmt.Errorf("checking the password: %w", err)
	}
	return pe
}

// Notify implements plugin.Invites: it checks every event first (a batch with one bad
// event changes nothing), ends the ad-hoc sessions of each client stream that ended,
// and hands the batch to the state's EventHandler, if any.
func (s *Service) Notify(ctx context.Context, events []plugin.Event) error {
	st, err := s.state()
	if err != nil {
		return err
	}
	if len(events) > maxEventBatch {
		return fmt.Errorf("%d events in one batch: at most %d are taken", len(events), maxEventBatch)
	}
	hosts := st.core.Hosts()
	var errs []error
	for i, e := range events {
		if err := checkEvent(e, hosts); err != nil {
			errs = append(errs, fmt.Errorf("event %d: %w", i+1, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, e := range events {
		s.log.DebugContext(ctx, "host event", "id", e.ID, "type", string(e.Type), "jid", e.JID, "lang", e.Lang)
		if e.Type == plugin.EventStreamEnded {
			st.cmds.EndSessions(e.JID)
		}
	}
	if st.events == nil {
		return nil
	}
	return st.events(ctx, events)
}

// checkEvent refuses an event that is not one a host sends: it says what was wrong.
func checkEvent(e plugin.Event, hosts []string) error {
	if e.ID == "" || len(e.ID) > maxEventID {
		return fmt.Errorf("the ID is empty or longer than %d bytes", maxEventID)
	}
	var full bool
	switch e.Type {
	case plugin.EventLogin, plugin.EventStreamEnded:
		full = true
	case plugin.EventAccountCreated, plugin.EventAccountDeleted, plugin.EventAccountDisabled, plugin.EventAccountEnabled:
	default:
		return fmt.Errorf("unknown type %q (known: login, stream-ended, account-created, account-deleted, account-disabled, account-enabled)", e.Type)
	}
	if !slices.Contains(hosts, e.Host) {
		return fmt.Errorf("%s: the host %q is not served by this plugin", e.Type, e.Host)
	}
	j, err := jid.Parse(e.JID)
	switch {
	case err != nil || j.Localpart() == "":
		return fmt.Errorf("%s: %q is not an account's address", e.Type, e.JID)
	case j.Domainpart() != e.Host:
		return fmt.Errorf("%s: %s is not on the host %s", e.Type, e.JID, e.Host)
	case full && j.Resourcepart() == "":
		return fmt.Errorf("%s: %s is not a client's full address (user@host/resource)", e.Type, e.JID)
	case !full && j.Resourcepart() != "":
		return fmt.Errorf("%s: %s is not an account's bare address (user@host)", e.Type, e.JID)
	}
	return nil
}

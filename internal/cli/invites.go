package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/core"
)

// errInviteNotFound is what "invites show|revoke" say of an unknown invite.
var errInviteNotFound = errors.New("invite not found")

// inviteError says errInviteNotFound for core.ErrNotFound and returns any other error
// (nil included) as it is.
func inviteError(err error) error {
	if errors.Is(err, core.ErrNotFound) {
		return errInviteNotFound
	}
	return err
}

// runInvites runs "invites create|list|show|update|revoke".
func runInvites(ctx context.Context, p parsed, stdout io.Writer) error {
	if len(p.pos) < 2 {
		return usagef("invites: want create, list, show, update, resend or revoke")
	}
	var err error
	switch p.pos[1] {
	case "create", "list":
		err = checkVerb(p, 1, 1, "HOST")
	case "show", "revoke", "update", "resend":
		err = checkVerb(p, 2, 2, "HOST ID")
	default:
		return usagef("invites: unknown verb %q: use create, list, show, update, resend or revoke", p.pos[1])
	}
	if err != nil {
		return err
	}
	var spec core.InviteSpec
	var status core.Status
	var expiring time.Duration
	var change core.InvitePatch
	switch p.pos[1] {
	case "update":
		if change, err = invitePatch(p, time.Now()); err != nil {
			return err
		}
	case "create":
		if spec, err = inviteSpec(p); err != nil {
			return err
		}
	}
	var refused error // the refusals of the options' values, reported with the core's
	switch p.pos[1] {
	case "update":
		refused = change.Refused
	case "create":
		refused = spec.Refused
	case "list":
		if v, ok := p.value("status"); ok {
			status, refused = core.ParseStatus(v)
		}
		if v, ok := p.value("expiring"); ok {
			var err error
			if expiring, err = core.ParseDuration(v); err != nil || expiring <= 0 {
				refused = errors.Join(refused, core.Refuse(core.ErrInvalid, core.FieldExpiringWithin, "give a duration such as 2d or 12h"))
			}
		}
	}

	s, err := open(ctx, p.g)
	if err != nil {
		return errors.Join(refused, err)
	}
	defer s.Close()
	host, err := s.host(p.pos[2])
	if err != nil {
		return err
	}
	now := time.Now()
	switch p.pos[1] {
	case "create":
		spec.Host = host
		inv, err := s.svc.CreateInvite(ctx, spec)
		if err != nil {
			return err
		}
		if p.has("json") {
			body := httpapi.NewInvite(inv, now)
			if inv.Token != "" {
				body.Token, body.URI, body.LandingPage = inv.Token, s.svc.InviteURI(inv), s.svc.InviteLandingPage(inv)
			}
			return writeJSON(stdout, body)
		}
		if inv.Email != "" {
			// The mail carries the only token.
			fmt.Fprintf(stdout, "%s\tmail to %s queued\n", inv.ID, inv.Email)
			return nil
		}
		fmt.Fprintln(stdout, s.svc.InviteLocation(inv))
	case "list":
		if refused != nil {
			return refused
		}
		invs, err := listAll(ctx, s.svc, core.InviteQuery{Host: host, Status: status, ExpiringWithin: expiring})
		if err != nil {
			return err
		}
		if p.has("json") {
			out := make([]httpapi.Invite, len(invs))
			for i, inv := range invs {
				out[i] = httpapi.NewInvite(inv, now)
			}
			return writeJSON(stdout, out)
		}
		for _, inv := range invs {
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%d/%s\t%s\t%s\t%s\n", inv.ID, inv.Kind, inv.Status(now),
				inv.Uses, maxUses(inv.MaxUses), stamp(inv.ExpiresAt, "-"), inv.CreatedBy, inv.Note)
		}
	case "show":
		inv, err := s.svc.Invite(ctx, cliActor, host, p.pos[3])
		if err != nil {
			return inviteError(err)
		}
		if p.has("json") {
			return writeJSON(stdout, httpapi.NewInviteWithUses(inv, now))
		}
		return showInvite(stdout, inv, now)
	case "update":
		inv, err := s.svc.UpdateInvite(ctx, cliActor, host, p.pos[3], change)
		if err != nil {
			return inviteError(err)
		}
		if p.has("json") {
			return writeJSON(stdout, httpapi.NewInviteWithUses(inv, now))
		}
	case "revoke":
		_, err := s.svc.RevokeInvite(ctx, cliActor, host, p.pos[3])
		return inviteError(err)
	case "resend":
		email, _ := p.value("email")
		inv, err := s.svc.ResendInvite(ctx, cliActor, host, p.pos[3], email)
		if err != nil {
			return inviteError(err)
		}
		if p.has("json") {
			return writeJSON(stdout, httpapi.NewInviteWithUses(inv, now))
		}
		fmt.Fprintf(stdout, "%s\tmail to %s queued\n", inv.ID, inv.Email)
	}
	return nil
}

// inviteSpec reads the options of "invites create": option combinations that make no
// sense are usage errors; the refusals of values go to spec.Refused, for the core to
// report with its own.
func inviteSpec(p parsed) (core.InviteSpec, error) {
	spec := core.InviteSpec{Kind: core.KindAccount, Actor: cliActor, Groups: p.opts["group"], Approval: p.has("approval")}
	spec.Note, _ = p.value("note")
	spec.Email, _ = p.value("email")
	spec.Welcome, _ = p.value("welcome")
	var errs []error
	if v, ok := p.value("ttl"); ok {
		var err error
		spec.TTL, err = core.ParseTTL(v)
		errs = append(errs, err)
	}
	if v, ok := p.value("max-uses"); ok {
		n, err := core.ParseMaxUses(v)
		errs = append(errs, err)
		if err == nil {
			spec.MaxUses = &n
		}
	}
	spec.Username, _ = p.value("username")
	if user, ok := p.value("reset"); ok {
		switch {
		case p.has("username"):
			return spec, usagef("--reset names the account already: leave out --username")
		case p.has("max-uses"), p.has("group"), p.has("approval"):
			return spec, usagef("a reset invite is used once by its account: leave out --max-uses, --group and --approval")
		case user == "":
			return spec, usagef("--reset: name the account whose password the invite resets")
		}
		spec.Kind, spec.Username = core.KindReset, user
	}
	spec.Refused = errors.Join(errs...)
	return spec, nil
}

// invitePatch reads the options of "invites update": --expires (an RFC 3339 time, or
// a duration from now), --max-uses and --note ("" removes it); the refusals of values
// go to change.Refused, for the core to report with its own.
func invitePatch(p parsed, now time.Time) (core.InvitePatch, error) {
	var (
		change core.InvitePatch
		errs   []error
	)
	if !p.has("expires") && !p.has("max-uses") && !p.has("note") {
		return change, usagef("invites update: say what to change: --expires, --max-uses or --note")
	}
	if v, ok := p.value("expires"); ok {
		t, err := core.ParseExpiry(v, now)
		errs = append(errs, err)
		if err == nil {
			change.ExpiresAt = &t
		}
	}
	if v, ok := p.value("max-uses"); ok {
		n, err := core.ParseMaxUses(v)
		errs = append(errs, err)
		if err == nil {
			change.MaxUses = &n
		}
	}
	if v, ok := p.value("note"); ok {
		change.Note = &v
	}
	change.Refused = errors.Join(errs...)
	return change, nil
}

// listAll reads every page of the invites q selects, newest first.
func listAll(ctx context.Context, svc *core.Service, q core.InviteQuery) ([]core.Invite, error) {
	var out []core.Invite
	q.Limit = core.MaxListLimit
	for {
		page, err := svc.ListInvites(ctx, cliActor, q)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Invites...)
		if page.NextCursor == "" {
			return out, nil
		}
		q.Cursor = page.NextCursor
	}
}

// maxUses writes max_uses for the list: 0 is no limit.
func maxUses(n int) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.Itoa(n)
}

// showInvite prints an invite for people, a field a line.
func showInvite(w io.Writer, inv core.Invite, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	line("id", inv.ID)
	line("kind", string(inv.Kind))
	line("host", inv.Host)
	line("status", string(inv.Status(now)))
	line("created", stamp(inv.CreatedAt, ""))
	line("created by", inv.CreatedBy)
	expires := stamp(inv.ExpiresAt, "")
	if inv.Status(now) == core.StatusPending {
		expires += " (" + core.SpanOf(inv.ExpiresAt.Sub(now)).String() + ")"
	}
	line("expires", expires)
	line("revoked", stamp(inv.RevokedAt, ""))
	line("username", inv.Username)
	if inv.Inviter != "" {
		line("inviter", inv.Inviter+"@"+inv.Host)
	}
	line("note", inv.Note)
	line("groups", strings.Join(inv.Groups, ", "))
	line("uses", fmt.Sprintf("%d of %s", inv.Uses, maxUses(inv.MaxUses)))
	for i, u := range inv.Redemptions {
		k := ""
		if i == 0 {
			k = "used by"
		}
		fmt.Fprintf(tw, "%s\t%s at %s\n", k, u.JID, stamp(u.At, ""))
	}
	if inv.Mail.Status != "" {
		mail := string(inv.Mail.Status) + " " + stamp(inv.Mail.At, "")
		if inv.Email != "" {
			mail = inv.Email + ": " + mail
		}
		if inv.Mail.Error != "" {
			mail += " (" + inv.Mail.Error + ")"
		}
		line("email", mail)
	}
	line("welcome", strings.ReplaceAll(inv.Welcome, "\n", " / "))
	f := inv.Funnel
	line("funnel", fmt.Sprintf("%d page views, %d registrations started, %d accounts, %d first logins, %d still active after 7 days",
		f.PageOpened, f.RegistrationStarted, f.AccountCreated, f.FirstLogin, f.StillActive))
	return tw.Flush()
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

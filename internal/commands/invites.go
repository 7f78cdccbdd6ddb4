package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/internal/commands/session"
	"github.com/xmpp-invites/invites/internal/core"
)

// This file holds the invite lifecycle commands (list, revoke, reset invites) and the
// creation fields they share with create-account.

// revokeChoices bounds the pending invites the revoke form offers, newest first.
const revokeChoices = 100

// boolean reads a boolean field: absent or empty is false; "1" and "true" are true,
// "0" and "false" false (XEP-0004 §3.3).
func boolean(f *adhoc.Form, v string) (bool, error) {
	s, err := single(f, v)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(s) {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	}
	return false, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: v + ": use true or false"}
}

// creationFields reads the optional fields an invite is created with (ttl, max-uses,
// note, groups) into spec; the refusals of their values go to spec.Refused, each
// naming its field, for the core to report with its own.
func creationFields(f *adhoc.Form, spec *core.InviteSpec) error {
	var errs []error
	ttl, err := single(f, "ttl")
	if err != nil {
		return err
	}
	spec.TTL, err = core.ParseTTL(ttl)
	errs = append(errs, err)
	maxUses, err := single(f, "max-uses")
	if err != nil {
		return err
	}
	if maxUses != "" {
		n, err := core.ParseMaxUses(maxUses)
		errs = append(errs, err)
		if err == nil {
			spec.MaxUses = &n
		}
	}
	// The note keeps its spaces inside; only the ends are trimmed.
	if spec.Note, err = single(f, "note"); err != nil {
		return err
	}
	if fl, ok := f.Field("groups"); ok {
		for _, g := range fl.Values {
			if g = strings.TrimSpace(g); g != "" {
				spec.Groups = append(spec.Groups, g)
			}
		}
	}
	if spec.Email, err = single(f, "email"); err != nil {
		return err
	}
	if fl, ok := f.Field("welcome"); ok {
		spec.Welcome = strings.Join(fl.Values, "\n")
	}
	spec.Refused = errors.Join(append(errs, spec.Refused)...)
	return nil
}

// manages reports whether the requester sees every invite of the host (an
// administrator) rather than the invites it made.
func manages(call session.Call) bool { return call.Role.AtLeast(adhoc.RoleAdmin) }

// statusOptions are the choices of the list's status field; the value "" of "all" is
// written as "all", which core.ParseStatus reads as any status.
var statusOptions = []adhoc.Option{
	{Label: "All", Value: "all"},
	{Label: "Pending", Value: string(core.StatusPending)},
	{Label: "Used", Value: string(core.StatusUsed)},
	{Label: "Expired", Value: string(core.StatusExpired)},
	{Label: "Revoked", Value: string(core.StatusRevoked)},
	{Label: "Expiring soon", Value: expiringChoice},
}

// expiringChoice is the value of the list's "expiring soon" choice: the pending
// invites that expire within expiringSoon.
const expiringChoice = "expiring"

// expiringSoon is how soon "expiring soon" is.
const expiringSoon = 48 * time.Hour

func (c *cmds) listInvitesForm(_ context.Context, call session.Call, _ []*adhoc.Form) (*adhoc.Form, error) {
	which := "the invites you made"
	if manages(call) {
		which = "every invite of " + call.Host
	}
	return &adhoc.Form{
		Type:         adhoc.FormForm,
		Title:        "List invites",
		Instructions: []string{"Lists " + which + ", newest first, with who used them."},
		Fields: []adhoc.Field{{Var: "status", Type: adhoc.FieldListSingle, Label: "Show",
			Values: []string{"all"}, Options: statusOptions}},
	}, nil
}

// parseStatus reads the status choice: an option's value or, from clients that submit
// labels (Gajim), its label. "Expiring soon" is StatusPending with the list's
// ExpiringWithin (listQuery).
func parseStatus(s string) (core.Status, error) {
	for _, o := range statusOptions {
		if strings.EqualFold(s, o.Label) {
			s = o.Value
		}
	}
	if strings.EqualFold(s, expiringChoice) {
		return core.StatusPending, nil
	}
	st, err := core.ParseStatus(strings.ToLower(s))
	if err != nil {
		return "", notAcceptable("status", err)
	}
	return st, nil
}

// listColumnsInvites are the columns of the invite list: var and label.
var listColumnsInvites = [...][2]string{
	{"id", "ID"}, {"kind", "Kind"}, {"status", "Status"}, {"uses", "Uses"}, {"max-uses", "Max uses"},
	{"created", "Created"}, {"expires", "Expires"}, {"created-by", "Created by"}, {"username", "Username"},
	{"note", "Note"}, {"groups", "Groups"}, {"used-by", "Used by"},
}

// listInvites answers with a page of the invites the requester may see, newest first
// (see listPage), with the accounts that used each: a line "ID: kind" and short lines
// for people, and a column per field for programs. Long values are clipped, and the
// accounts that used an invite named up to a bound, the rest counted.
func (c *cmds) listInvites(ctx context.Context, call session.Call, forms []*adhoc.Form) (session.Result, error) {
	s, err := single(submitted(forms, 0), "status")
	if err != nil {
		return session.Result{}, err
	}
	st, err := parseStatus(s)
	if err != nil {
		return session.Result{}, err
	}
	offset, cursor, err := parsePage(call.Page)
	if err != nil {
		return session.Result{}, err
	}
	by := actor(call, manages(call))
	q := core.InviteQuery{Host: call.Host, Status: st, Limit: pageItems, Cursor: cursor}
	if choice := strings.ToLower(s); choice == expiringChoice || choice == "expiring soon" {
		q.ExpiringWithin = expiringSoon
	}
	found, err := c.svc.ListInvites(ctx, by, q)
	if err != nil {
		return session.Result{}, notAcceptable("", err)
	}
	what := "invite"
	switch {
	case q.ExpiringWithin > 0:
		what = "invite expiring within " + core.HumanDuration(expiringSoon) + ","
	case st != "":
		what = string(st) + " invite"
	}
	if len(found.Invites) == 0 {
		whose := "of " + call.Host
		if !manages(call) {
			whose = "made by you"
		}
		if offset > 0 { // the rest went away meanwhile
			return info("There are no more " + what + "s " + whose + "."), nil
		}
		return info("There are no " + what + "s " + whose + "."), nil
	}
	now := c.now()
	page := newListPage("invites", "Invites", listColumnsInvites[:])
	shown := 0
	for _, inv := range found.Invites {
		if inv.Uses > 0 {
			// Lists leave the redemptions out; a page is small enough to read them.
			full, err := c.svc.Invite(ctx, by, call.Host, inv.ID)
			if err == nil {
				inv = full
			} else if !errors.Is(err, core.ErrNotFound) {
				return session.Result{}, err
			}
		}
		lines, row := inviteEntry(inv, inv.Status(now), by)
		if !page.add(lines, row) {
			break
		}
		shown++
	}
	res := session.Result{}
	switch {
	case shown < len(found.Invites):
		last := found.Invites[shown-1]
		res.NextPage = pageName(offset+shown, core.Cursor(core.Position{CreatedAt: last.CreatedAt, ID: last.ID}))
	case found.NextCursor != "":
		res.NextPage = pageName(offset+shown, found.NextCursor)
	}
	which := "the invites you made"
	if manages(call) {
		which = "every invite of " + call.Host
	}
	res.Form = page.form("Invites", "Newest first: "+which+". Long values are cut short here; the command line and the HTTP API show them whole.",
		pageText(what, offset+1, page.n, -1, res.NextPage != ""))
	return res, nil
}

// inviteEntry writes an invite for the invite list: its lines for people and its
// row of columns (listColumnsInvites). by is the requester, whose own invites go
// without "by …".
func inviteEntry(inv core.Invite, status core.Status, by core.Actor) (lines, row []string) {
	var usedBy []string
	for _, u := range inv.Redemptions {
		usedBy = append(usedBy, u.JID)
	}
	groups := clip(strings.Join(inv.Groups, ", "), clipText)
	row = []string{
		inv.ID, string(inv.Kind), string(status), strconv.Itoa(inv.Uses), maxUsesText(inv.MaxUses),
		formatTime(inv.CreatedAt), formatTime(inv.ExpiresAt), clip(inv.CreatedBy, clipName), clip(inv.Username, clipName),
		clip(inv.Note, clipText), groups, summary(usedBy, usersInColumn),
	}
	parts := []string{string(status), fmt.Sprintf("%d of %s uses", inv.Uses, maxUsesText(inv.MaxUses)),
		"expires " + humanTime(inv.ExpiresAt)}
	if inv.CreatedBy != "xmpp:"+by.ID {
		parts = append(parts, "by "+clip(inv.CreatedBy, clipName)) // the requester's own go without
	}
	if inv.Note != "" {
		parts = append(parts, "note: "+clip(inv.Note, clipText))
	}
	if len(inv.Groups) > 0 {
		parts = append(parts, "groups: "+groups)
	}
	if len(usedBy) > 0 {
		parts = append(parts, "used by "+summary(usedBy, usersInLine))
	}
	if inv.Mail.Status != "" {
		parts = append(parts, "email "+string(inv.Mail.Status))
	}
	if f := inv.Funnel; f != (core.Funnel{}) {
		parts = append(parts, funnelText(f))
	}
	return entryLines(inv.ID+": "+kindText(inv), parts), row
}

// funnelText says what became of an invite in a short line.
func funnelText(f core.Funnel) string {
	return fmt.Sprintf("seen %d, started %d, accounts %d, logged in %d, active %d",
		f.PageOpened, f.RegistrationStarted, f.AccountCreated, f.FirstLogin, f.StillActive)
}

// maxUsesText writes max_uses for people: 0 means no limit.
func maxUsesText(n int) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.Itoa(n)
}

// kindText names an invite's kind for people: "account invite for juliet", "contact
// invite of romeo", "reset invite for juliet".
func kindText(inv core.Invite) string {
	s := string(inv.Kind) + " invite"
	switch {
	case inv.Kind == core.KindContact && inv.Inviter != "":
		s += " of " + inv.Inviter
	case inv.Username != "":
		s += " for " + inv.Username
	}
	return s
}

// labelNote bounds the note in an invite's label: poezio shows a list option
// centred in half its window, nothing at all of a wider one, and of a list-multi
// option only what fits the right half of that (about 45 characters at 200 columns).
const labelNote = 24

// inviteText describes an invite in a few words: its note (when it has one, cut to
// labelNote characters), its kind, its status when that is not pending, and its
// expiry.
func inviteText(inv core.Invite, status core.Status) string {
	s := kindText(inv)
	if status != "" && status != core.StatusPending {
		s += ", " + string(status)
	}
	s += ", expires " + humanTime(inv.ExpiresAt)
	if inv.Note != "" {
		note := inv.Note
		if r := []rune(note); len(r) > labelNote {
			note = strings.TrimSpace(string(r[:labelNote-1])) + "…"
		}
		s = note + " — " + s
	}
	return s
}

// inviteLabel names an invite in the revoke and change forms, uniquely: its ID
// first, as "List invites" shows it (and as the little of a list option poezio shows
// keeps it), then inviteText. A submitted label (Gajim submits labels) gives the ID
// back: it begins with the ID, which no note can change.
func inviteLabel(inv core.Invite, status core.Status) string {
	return inv.ID + ": " + inviteText(inv, status)
}

// choiceID returns the invite ID a submitted choice names: the option's value (the
// ID) or its label (beginning with "ID: "); "" when it names none.
func choiceID(v string) string {
	if core.ValidID(v) {
		return v
	}
	if id, _, ok := strings.Cut(v, ": "); ok && core.ValidID(id) {
		return id
	}
	return ""
}

func (c *cmds) revokeInvitesForm(ctx context.Context, call session.Call, _ []*adhoc.Form) (*adhoc.Form, error) {
	page, err := c.svc.ListInvites(ctx, actor(call, manages(call)),
		core.InviteQuery{Host: call.Host, Status: core.StatusPending, Limit: revokeChoices})
	if err != nil {
		return nil, err
	}
	if len(page.Invites) == 0 {
		return nil, nil
	}
	fl := adhoc.Field{Var: "invites", Type: adhoc.FieldListMulti, Label: "Invites to revoke", Required: true}
	for _, inv := range page.Invites {
		fl.Options = append(fl.Options, adhoc.Option{Label: inviteLabel(inv, core.StatusPending), Value: inv.ID})
	}
	instr := "Pending invites, newest first. A revoked invite stops working at once; its record stays."
	if page.NextCursor != "" {
		instr = fmt.Sprintf("The %d newest pending invites. A revoked invite stops working at once; its record stays.", len(page.Invites))
	}
	return choiceForm("Revoke invites", instr, fl), nil
}

func (c *cmds) revokeInvites(ctx context.Context, call session.Call, forms []*adhoc.Form) (session.Result, error) {
	if len(forms) == 0 {
		return info("There are no pending invites to revoke."), nil
	}
	values, err := selected(forms, "invites", "invite")
	if err != nil {
		return session.Result{}, err
	}
	by := actor(call, manages(call))
	// Check every choice before revoking anything: a choice this requester may not see
	// is "no such invite", as if it did not exist.
	var chosen []core.Invite
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		id := choiceID(strings.TrimSpace(v))
		inv, err := c.svc.Invite(ctx, by, call.Host, id)
		if errors.Is(err, core.ErrNotFound) || id == "" {
			return session.Result{}, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "invites: no such invite " + strconv.Quote(truncate(v, 64))}
		}
		if err != nil {
			return session.Result{}, err
		}
		if !seen[inv.ID] {
			seen[inv.ID] = true
			chosen = append(chosen, inv)
		}
	}
	var revoked []string
	var res session.Result
	for _, inv := range chosen {
		if _, err := c.svc.RevokeInvite(ctx, by, call.Host, inv.ID); err != nil {
			if len(revoked) == 0 {
				return session.Result{}, fmt.Errorf("revoking invite %s: %w", inv.ID, err)
			}
			res.Notes = append(res.Notes, adhoc.Note{Type: adhoc.NoteError, Text: "Revoking " + inv.ID + " failed; the invites after it were not revoked."})
			break
		}
		revoked = append(revoked, inv.ID+" ("+inviteText(inv, "")+")")
	}
	noun := "invites"
	if len(revoked) == 1 {
		noun = "invite"
	}
	res.Notes = append([]adhoc.Note{{Type: adhoc.NoteInfo,
		Text: fmt.Sprintf("Revoked %d %s: %s.", len(revoked), noun, strings.Join(revoked, "; "))}}, res.Notes...)
	return res, nil
}

func (c *cmds) resetInviteForm(context.Context, session.Call, []*adhoc.Form) (*adhoc.Form, error) {
	return &adhoc.Form{
		Type:         adhoc.FormForm,
		Title:        "Create password reset invite",
		Instructions: []string{"The invite lets whoever holds it set a new password for an existing account, once. Give it only to the account's owner."},
		Fields: []adhoc.Field{
			text("username", "Username", "The account whose password the invite resets.", true),
			text("ttl", "Valid for", "Such as 1d or 2h; empty: the host's default.", false),
			text("note", "Note", "Optional: why, for whoever lists invites later.", false),
		},
	}, nil
}

func (c *cmds) resetInvite(ctx context.Context, call session.Call, forms []*adhoc.Form) (session.Result, error) {
	f := submitted(forms, 0)
	username, err := single(f, "username")
	if err != nil {
		return session.Result{}, err
	}
	if username == "" {
		return session.Result{}, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "username: the account to reset is required"}
	}
	name, err := core.NormalizeUsername(username)
	if err != nil {
		return session.Result{}, notAcceptable("username", err)
	}
	if c.accounts != nil {
		// A failed lookup lets the invite be made: redemption needs the account anyway.
		if exists, err := c.accounts.AccountExists(ctx, name+"@"+call.Host); err == nil && !exists {
			return session.Result{}, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "username: there is no account " + name + "@" + call.Host}
		}
	}
	spec := core.InviteSpec{Host: call.Host, Kind: core.KindReset, Username: name, Actor: actor(call, true)}
	if err := creationFields(f, &spec); err != nil {
		return session.Result{}, err
	}
	inv, err := c.svc.CreateInvite(ctx, spec)
	if err != nil {
		return session.Result{}, err
	}
	res := c.invitation(inv)
	res.Form.Title = "Password reset invite created"
	res.Notes = append(res.Notes, adhoc.Note{Type: adhoc.NoteWarn,
		Text: "Whoever holds this invite can set a new password for " + name + "@" + call.Host + ": give it only to its owner."})
	return res, nil
}

// changeInviteChoice is the first stage of "Change an invite": which one, among the
// invites the requester may see that are not revoked (newest first).
func (c *cmds) changeInviteChoice(ctx context.Context, call session.Call, _ []*adhoc.Form) (*adhoc.Form, error) {
	by := actor(call, manages(call))
	fl := adhoc.Field{Var: "invite", Type: adhoc.FieldListSingle, Label: "Invite to change", Required: true}
	for _, st := range []core.Status{core.StatusPending, core.StatusUsed, core.StatusExpired} {
		page, err := c.svc.ListInvites(ctx, by, core.InviteQuery{Host: call.Host, Status: st, Limit: revokeChoices})
		if err != nil {
			return nil, err
		}
		for _, inv := range page.Invites {
			fl.Options = append(fl.Options, adhoc.Option{Label: inviteLabel(inv, st), Value: inv.ID})
		}
	}
	if len(fl.Options) == 0 {
		return nil, nil
	}
	// The newest pending invite is chosen to begin with: poezio shows (and submits)
	// the first option of a list without a value anyway, profanity lists the options
	// with their labels only once the field has a value (see choicesDesc), and the
	// next stage names the invite before anything changes.
	fl.Values = []string{fl.Options[0].Value}
	instr := "Pending invites first, then used and expired ones, which a longer expiry or more uses make pending again."
	if !manages(call) {
		instr = "Pending invites first, then expired ones, which a longer expiry makes pending again."
	}
	return choiceForm("Change an invite", instr, fl), nil
}

// chosenInvite reads the invite chosen at the first stage; one the requester may not
// see is "no such invite".
func (c *cmds) chosenInvite(ctx context.Context, call session.Call, forms []*adhoc.Form) (core.Invite, error) {
	v, err := single(submitted(forms, 0), "invite")
	if err != nil {
		return core.Invite{}, err
	}
	id := choiceID(v)
	inv, err := c.svc.Invite(ctx, actor(call, manages(call)), call.Host, id)
	if errors.Is(err, core.ErrNotFound) || id == "" {
		return core.Invite{}, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "invite: no such invite " + strconv.Quote(truncate(v, 64))}
	}
	if err != nil {
		return core.Invite{}, err
	}
	if !inv.RevokedAt.IsZero() {
		return core.Invite{}, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "invite: " + inv.ID + " was revoked and cannot change any more"}
	}
	return inv, nil
}

// changeInviteForm is the second stage: the invite's expiry, max_uses and note, filled
// in with their values.
func (c *cmds) changeInviteForm(ctx context.Context, call session.Call, forms []*adhoc.Form) (*adhoc.Form, error) {
	if len(forms) == 0 {
		return nil, nil // nothing to choose: completes with a note
	}
	inv, err := c.chosenInvite(ctx, call, forms)
	if err != nil {
		return nil, err
	}
	expires := text("expires", "Expires", "A time such as 2030-01-02T15:04:05Z, or a duration from now such as 7d.", true)
	expires.Values = []string{formatTime(inv.ExpiresAt)}
	fields := []adhoc.Field{expires}
	if maxUses, ok := maxUsesField(inv, manages(call)); ok {
		fields = append(fields, maxUses)
	}
	note := text("note", "Note", "Empty removes it.", false)
	if inv.Note != "" {
		note.Values = []string{inv.Note}
	}
	return &adhoc.Form{
		Type:         adhoc.FormForm,
		Title:        "Change " + kindText(inv) + " (" + inv.ID + ")",
		Instructions: []string{fmt.Sprintf("Status %s, %d of %s uses.", inv.Status(c.now()), inv.Uses, maxUsesText(inv.MaxUses))},
		Fields:       append(fields, note),
	}, nil
}

// maxUsesField is the max-uses field of the change form, in the words of the
// invite's kind, filled in; none (false) where it does not apply: a reset invite is
// used once, and an account invite for a fixed username makes that one account.
// (One for a fixed username that allows more, as older invites may, is offered, so
// that it can be set back to 1.)
func maxUsesField(inv core.Invite, manage bool) (adhoc.Field, bool) {
	if inv.Kind == core.KindReset || (inv.Username != "" && inv.MaxUses == 1) {
		return adhoc.Field{}, false
	}
	label, what := "Accounts it can make", "accounts"
	switch {
	case inv.Kind == core.KindContact && inv.AllowRegister:
		label, what = "Times it can be used", "people adding "+inv.Inviter+" or registering"
	case inv.Kind == core.KindContact:
		label, what = "Contacts it can add", "people adding "+inv.Inviter
	}
	desc := fmt.Sprintf("How many %s: 0 for any number until it expires; not below the %d made.", what, inv.Uses)
	if !manage {
		desc = fmt.Sprintf("How many %s: you can lower it, not below the %d made; only an administrator can raise it.", what, inv.Uses)
	}
	f := text("max-uses", label, desc, true)
	f.Values = []string{strconv.Itoa(inv.MaxUses)}
	return f, true
}

// changeInvite applies what the second stage changed.
func (c *cmds) changeInvite(ctx context.Context, call session.Call, forms []*adhoc.Form) (session.Result, error) {
	if len(forms) == 0 {
		return info("There are no invites to change."), nil
	}
	inv, err := c.chosenInvite(ctx, call, forms)
	if err != nil {
		return session.Result{}, err
	}
	f := submitted(forms, 1)
	var (
		change core.InvitePatch
		errs   []error // every refusal of the form, reported with the core's
	)
	if v, err := single(f, "expires"); err != nil {
		return session.Result{}, err
	} else if v != "" && v != formatTime(inv.ExpiresAt) {
		t, err := core.ParseExpiry(v, c.now())
		errs = append(errs, err)
		if err == nil {
			change.ExpiresAt = &t
		}
	}
	if v, err := single(f, "max-uses"); err != nil {
		return session.Result{}, err
	} else if v != "" && v != strconv.Itoa(inv.MaxUses) {
		n, err := core.ParseMaxUses(v)
		switch {
		case err != nil:
			errs = append(errs, err)
		case !manages(call) && (n == 0 || (inv.MaxUses != 0 && n > inv.MaxUses)):
			// A user's invites count against the user quota by invite, not by use:
			// raising their uses would let one invite register any number of accounts.
			errs = append(errs, core.Refuse(core.ErrInvalid, core.FieldMaxUses,
				"you can lower it (it is %s), not raise it; ask an administrator", maxUsesText(inv.MaxUses)))
		default:
			change.MaxUses = &n
		}
	}
	if fl, ok := f.Field("note"); ok {
		v, err := single(f, "note")
		if err != nil {
			return session.Result{}, err
		}
		if v != inv.Note && (len(fl.Values) > 0 || inv.Note != "") {
			change.Note = &v
		}
	}
	change.Refused = errors.Join(errs...)
	if change == (core.InvitePatch{}) {
		return info("Nothing changed."), nil
	}
	by := actor(call, manages(call))
	if !manages(call) {
		// An expired invite made pending again counts against the quota (issue 21).
		by.Quota = c.quota()
	}
	inv, err = c.svc.UpdateInvite(ctx, by, call.Host, inv.ID, change)
	if err != nil {
		return session.Result{}, c.quotaError(err)
	}
	noteText := "no note"
	if inv.Note != "" {
		noteText = "note: " + inv.Note
	}
	expires := humanTime(inv.ExpiresAt)
	if now := c.now(); inv.Status(now) == core.StatusPending {
		expires += " (" + core.SpanOf(inv.ExpiresAt.Sub(now)).String() + ")"
	}
	return info(fmt.Sprintf("Changed %s: %s, %d of %s uses, expires %s, %s.",
		inv.ID, inv.Status(c.now()), inv.Uses, maxUsesText(inv.MaxUses), expires, noteText)), nil
}

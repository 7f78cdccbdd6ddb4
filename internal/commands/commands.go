package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/internal/commands/session"
	"github.com/xmpp-invites/invites/internal/core"
	"mellium.im/xmpp/jid"
)

// The command nodes.
const (
	// NodeCreateKey creates an API key (administrators).
	NodeCreateKey = "urn:xmpp-invites:keys#create"
	// NodeListKeys lists the host's API keys (administrators).
	NodeListKeys = "urn:xmpp-invites:keys#list"
	// NodeDeleteKeys deletes API keys (administrators).
	NodeDeleteKeys = "urn:xmpp-invites:keys#delete"
	// NodeCreateAccount creates an account invite (XEP-0401, administrators).
	NodeCreateAccount = "urn:xmpp:invite#create-account"
	// NodeInvite creates a contact invite (XEP-0401, local users).
	NodeInvite = "urn:xmpp:invite#invite"
	// NodeListInvites lists invites: every invite of the host for administrators, the
	// invites they made for users.
	NodeListInvites = "urn:xmpp-invites:invites#list"
	// NodeRevokeInvites revokes pending invites, with the same scope as NodeListInvites.
	NodeRevokeInvites = "urn:xmpp-invites:invites#revoke"
	// NodeChangeInvite changes an invite's expiry, max_uses and note, with the same
	// scope as NodeListInvites.
	NodeChangeInvite = "urn:xmpp-invites:invites#change"
	// NodeResetInvite creates a password reset invite for an existing account
	// (administrators).
	NodeResetInvite = "urn:xmpp-invites:invites#reset"
	// FormTypeInvitation is the FORM_TYPE of the XEP-0401 result form.
	FormTypeInvitation = "urn:xmpp:invite#invitation"
)

// dateTime is the XEP-0082 DateTime layout, in UTC.
const dateTime = "2006-01-02T15:04:05Z"

// AccountChecker tells which accounts exist; plugin.HostAPI is one. With it, an
// invite for a fixed username that is already registered is refused at once, rather
// than at redemption.
type AccountChecker interface {
	// AccountExists reports whether the bare JID is a registered account.
	AccountExists(ctx context.Context, jid string) (bool, error)
}

// Options configure the commands.
type Options struct {
	// Sessions configure the command sessions: their idle timeout, how many each
	// requester keeps open, the clock.
	Sessions session.Options
	// AllowUserInvites lets the contact invites of ordinary users register an account
	// too (";ibr=y"); without it they let people with an account add the inviter only.
	// Administrators' contact invites always may register.
	AllowUserInvites bool
	// UserQuota bounds the invites each ordinary user makes (urn:xmpp:invite#invite);
	// the zero Quota means none. Administrators have none.
	UserQuota core.Quota
}

// Server runs the invite commands on a session.Server, and lays its responses out for
// the clients people use (see layout); it implements adhoc.Executor.
type Server struct {
	engine *session.Server
}

// Commands implements adhoc.Executor: the commands a requester with role may run.
func (s *Server) Commands(ctx context.Context, host, requester string, role adhoc.Role) ([]adhoc.Command, error) {
	return s.engine.Commands(ctx, host, requester, role)
}

// Execute implements adhoc.Executor: it runs one request of a command on host.
func (s *Server) Execute(ctx context.Context, host string, req adhoc.Request) (adhoc.Response, error) {
	resp, err := s.engine.Execute(ctx, host, req)
	if err != nil {
		return resp, err
	}
	return layout(resp), nil
}

// EndSessions ends every command session of requester (a full JID) at once, when
// its stream has ended (see session.Server.EndRequester); it returns how many.
func (s *Server) EndSessions(requester string) int { return s.engine.EndRequester(requester) }

// Sessions reports how many command sessions are open.
func (s *Server) Sessions() int { return s.engine.Sessions() }

var _ adhoc.Executor = (*Server)(nil)

// New returns a Server running the invite commands over svc; accounts, which may be
// nil, says which accounts exist.
// Who may run what comes from the role the host gives each request: the key commands,
// create-account and the reset invite need adhoc.RoleAdmin; the contact invite and
// the invite list and revocation adhoc.RoleUser, and the last two show a user only the
// invites that user made.
func New(svc *core.Service, accounts AccountChecker, opts Options) (*Server, error) {
	if svc == nil {
		return nil, errors.New("no core service")
	}
	c := &cmds{svc: svc, accounts: accounts, allowUserInvites: opts.AllowUserInvites, userQuota: opts.UserQuota, now: opts.Sessions.Now}
	if c.now == nil {
		c.now = time.Now
	}
	defs := []session.Definition{
		{
			Node:     NodeCreateKey,
			Name:     "Create invite API key",
			Role:     adhoc.RoleAdmin,
			Stages:   []session.Stage{{Form: c.createKeyForm}},
			Complete: c.createKey,
		},
		{
			Node:     NodeListKeys,
			Name:     "List invite API keys",
			Role:     adhoc.RoleAdmin,
			Complete: c.listKeys,
		},
		{
			Node:     NodeDeleteKeys,
			Name:     "Delete invite API keys",
			Role:     adhoc.RoleAdmin,
			Stages:   []session.Stage{{Form: c.deleteKeysForm}},
			Complete: c.deleteKeys,
		},
		{
			Node:     NodeCreateAccount,
			Name:     "Create account invite",
			Role:     adhoc.RoleAdmin,
			Stages:   []session.Stage{{Form: c.createAccountForm}},
			Complete: c.createAccount,
		},
		{
			Node:     NodeInvite,
			Name:     "Invite a contact",
			Role:     adhoc.RoleUser,
			Complete: c.invite,
		},
		{
			Node:     NodeListInvites,
			Name:     "List invites",
			Role:     adhoc.RoleUser,
			Stages:   []session.Stage{{Form: c.listInvitesForm}},
			Complete: c.listInvites,
		},
		{
			Node:     NodeChangeInvite,
			Name:     "Change an invite",
			Role:     adhoc.RoleUser,
			Stages:   []session.Stage{{Form: c.changeInviteChoice}, {Form: c.changeInviteForm}},
			Complete: c.changeInvite,
		},
		{
			Node:     NodeRevokeInvites,
			Name:     "Revoke invites",
			Role:     adhoc.RoleUser,
			Stages:   []session.Stage{{Form: c.revokeInvitesForm}},
			Complete: c.revokeInvites,
		},
		{
			Node:     NodeResetInvite,
			Name:     "Create password reset invite",
			Role:     adhoc.RoleAdmin,
			Stages:   []session.Stage{{Form: c.resetInviteForm}},
			Complete: c.resetInvite,
		},
	}
	defs = append(defs, c.accountDefinitions()...)
	for i := range defs {
		defs[i] = mapErrors(defs[i])
	}
	engine, err := session.NewServer(defs, opts.Sessions)
	if err != nil {
		return nil, err
	}
	return &Server{engine: engine}, nil
}

type cmds struct {
	svc              *core.Service
	accounts         AccountChecker // may be nil
	allowUserInvites bool
	userQuota        core.Quota
	now              func() time.Time // judges statuses in lists
}

// actor is the requester as the core records it; manage is true for administrators.
func actor(call session.Call, manage bool) core.Actor {
	a := core.Actor{Kind: core.ActorJID, Manage: manage}
	if j, err := jid.Parse(call.Requester); err == nil {
		a.ID = j.Bare().String()
	}
	return a
}

// notAcceptable returns err, a refusal of the value of the form field v, naming that
// field: a refusal of the core that names none (a duration, a rate) gets it. The
// command's wrapper (adhocError) then maps it.
func notAcceptable(v string, err error) error {
	if v == "" {
		return err
	}
	return core.InField(v, err)
}

// adhocError maps an error of the core to the ad-hoc answer: the one place where the
// core's errors become XEP-0050's. Every command's stages and completion go through it
// (see New).
//
//   - refusals (core.FieldError) are not-acceptable, each on a line of its own that
//     names the form field it concerns ("max-uses: …"); the form is shown again with
//     each as a note naming the field by its label;
//   - a store that is away is service-unavailable, "try again shortly";
//   - an *adhoc.Error, and any other error (which fails the command with a note that
//     the server's log says why), are returned as they are.
func adhocError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*adhoc.Error](err); ok {
		return err
	}
	if errors.Is(err, core.ErrUnavailable) {
		return &adhoc.Error{Condition: adhoc.CondServiceUnavailable, Text: "the invite store is unavailable; try again shortly"}
	}
	refusals := core.FieldErrors(err)
	if len(refusals) == 0 {
		return err
	}
	lines := make([]string, len(refusals))
	for i, r := range refusals {
		lines[i] = r.Reason
		if v := fieldVar(r.Field); v != "" {
			lines[i] = v + ": " + r.Reason
		}
	}
	return &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: strings.Join(lines, "\n")}
}

// fieldVar names a field of the core as the forms do: "max_uses" is the var
// "max-uses", "expires_at" is "expires", "group" is "groups".
func fieldVar(field string) string {
	switch field {
	case core.FieldExpiresAt:
		return "expires"
	case core.FieldGroup:
		return "groups"
	}
	return strings.ReplaceAll(field, "_", "-")
}

// mapErrors returns d with every stage and its completion answering through
// adhocError.
func mapErrors(d session.Definition) session.Definition {
	stages := make([]session.Stage, len(d.Stages))
	for i, st := range d.Stages {
		form := st.Form
		if form == nil {
			stages[i] = st
			continue
		}
		st.Form = func(ctx context.Context, call session.Call, forms []*adhoc.Form) (*adhoc.Form, error) {
			f, err := form(ctx, call, forms)
			return f, adhocError(err)
		}
		stages[i] = st
	}
	d.Stages = stages
	if complete := d.Complete; complete != nil {
		d.Complete = func(ctx context.Context, call session.Call, forms []*adhoc.Form) (session.Result, error) {
			res, err := complete(ctx, call, forms)
			return res, adhocError(err)
		}
	}
	return d
}

// single returns the one value of a field, trimmed, or "" when it is absent or empty.
func single(f *adhoc.Form, v string) (string, error) {
	fl, ok := f.Field(v)
	if !ok {
		return "", nil
	}
	if len(fl.Values) > 1 {
		return "", &adhoc.Error{Condition: adhoc.CondBadPayload, Text: v + ": more than one value"}
	}
	if len(fl.Values) == 0 {
		return "", nil
	}
	return strings.TrimSpace(fl.Values[0]), nil
}

// submitted returns the form of stage i, or an empty submission.
func submitted(forms []*adhoc.Form, i int) *adhoc.Form {
	if i < len(forms) && forms[i] != nil {
		return forms[i]
	}
	return &adhoc.Form{Type: adhoc.FormSubmit}
}

func text(v, label, desc string, required bool) adhoc.Field {
	return adhoc.Field{Var: v, Type: adhoc.FieldTextSingle, Label: label, Desc: desc, Required: required}
}

func value(v, label, val string) adhoc.Field {
	return adhoc.Field{Var: v, Type: adhoc.FieldTextSingle, Label: label, Values: []string{val}}
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(dateTime)
}

// humanTime writes a time for people, to the minute: "2026-12-13 02:32 UTC".
func humanTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04") + " UTC"
}

// entryWidth is the longest line of an entry in a list's field for people: poezio
// shows a text-multi value centred in half its window, and nothing at all of a
// value wider than that.
const entryWidth = 50

// entryLines writes one entry of a list for people: head on its first line, then
// parts, joined by ", ", on lines indented by two spaces, each at most entryWidth
// characters long (a longer head is clipped). A part is kept on one line when it
// fits one ("expires 2026-12-13 02:32 UTC"), else cut at spaces (a long note), and a
// word longer than a line across lines.
func entryLines(head string, parts []string) []string {
	const room = entryWidth - 2 // the indent
	lines := []string{clip(head, entryWidth)}
	line := ""
	add := func(w string) { // w never breaks
		switch {
		case line == "":
			line = w
		case len([]rune(line))+1+len([]rune(w)) > room:
			lines = append(lines, "  "+line)
			line = w
		default:
			line += " " + w
		}
	}
	for i, p := range parts {
		if i < len(parts)-1 {
			p += ","
		}
		if len([]rune(p)) <= room {
			add(p)
			continue
		}
		for _, w := range strings.Fields(p) {
			// A word too long for a line (a long name) is cut across lines.
			for r := []rune(w); len(r) > 0; {
				n := min(len(r), room)
				add(string(r[:n]))
				r = r[n:]
			}
		}
	}
	if line != "" {
		lines = append(lines, "  "+line)
	}
	return lines
}

// cell writes a value of a list's column: "-" for an empty one, since profanity
// drops empty values, which shifts the rest of the column onto the wrong entries.
func cell(v string) string {
	if v == "" {
		return "-"
	}
	return v
}

// plural writes n and noun, with an "s" unless n is 1.
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatInt(n, 10) + " " + noun + "s"
}

func (c *cmds) createKeyForm(context.Context, session.Call, []*adhoc.Form) (*adhoc.Form, error) {
	return &adhoc.Form{
		Type:         adhoc.FormForm,
		Title:        "Create invite API key",
		Instructions: []string{"The key lets a program create account invites for this host over HTTP. It is shown once, when it is created."},
		Fields: []adhoc.Field{
			text("name", "Name", "What the key is for, to recognise it later.", true),
			text("expires", "Key expires after", "Such as 30d or 12h; empty: never.", false),
			text("max-ttl", "Longest invite lifetime", "Bounds the lifetime of invites the key creates, such as 7d; empty: the host's bound.", false),
			text("rate", "Rate limit", "Invites per period as N/PERIOD, such as 10/h or 100/day; empty: unlimited.", false),
			{Var: "manage", Type: adhoc.FieldBoolean, Label: "Manage every invite",
				Desc: "Let the key list, change and revoke every invite of this host, not only those it made."},
		},
	}, nil
}

func (c *cmds) createKey(ctx context.Context, call session.Call, forms []*adhoc.Form) (session.Result, error) {
	f := submitted(forms, 0)
	var vals [4]string
	for i, v := range []string{"name", "expires", "max-ttl", "rate"} {
		s, err := single(f, v)
		if err != nil {
			return session.Result{}, err
		}
		vals[i] = s
	}
	spec := core.KeySpec{Host: call.Host, Name: vals[0], Actor: actor(call, true)}
	var errs []error // every refusal of the form, reported with the core's
	if spec.Name == "" {
		errs = append(errs, core.Refuse(core.ErrInvalid, "name", "a name is required"))
	}
	manage, err := boolean(f, "manage")
	if err != nil {
		return session.Result{}, err
	}
	spec.Manage = manage
	if vals[1] != "" {
		spec.ExpiresIn, err = core.ParseDuration(vals[1])
		errs = append(errs, notAcceptable("expires", err))
	}
	if vals[2] != "" {
		spec.MaxTTL, err = core.ParseDuration(vals[2])
		errs = append(errs, notAcceptable("max-ttl", err))
	}
	if vals[3] != "" {
		spec.Rate, err = core.ParseRate(vals[3])
		errs = append(errs, notAcceptable("rate", err))
	}
	spec.Refused = errors.Join(errs...)
	k, credential, err := c.svc.CreateKey(ctx, spec)
	if err != nil {
		return session.Result{}, err
	}
	fields := []adhoc.Field{
		value("key", "API key", credential),
		value("id", "ID", k.ID),
		value("name", "Name", k.Name),
		value("expires", "Expires", formatTime(k.ExpiresAt)),
	}
	if k.MaxTTL > 0 {
		fields = append(fields, value("max-ttl", "Longest invite lifetime", core.HumanDuration(k.MaxTTL)))
	}
	if !k.Rate.IsZero() {
		fields = append(fields, value("rate", "Rate limit", k.Rate.String()))
	}
	if k.Manage {
		fields = append(fields, value("manage", "Manages", "every invite of "+k.Host))
	}
	return session.Result{
		Notes: []adhoc.Note{{Type: adhoc.NoteWarn, Text: "Copy the key now: it is shown only this once and cannot be shown again."}},
		Form:  &adhoc.Form{Type: adhoc.FormResult, Title: "New invite API key", Fields: fields},
	}, nil
}

// listColumns are the columns of the key list: var and label.
var listColumns = [...][2]string{
	{"id", "ID"}, {"name", "Name"}, {"created", "Created"}, {"expires", "Expires"}, {"last-used", "Last used"}, {"uses", "Uses"},
	{"manage", "Manages every invite"}, {"max-ttl", "Longest invite lifetime"}, {"rate", "Rate limit"},
}

// listKeys answers with a page of the host's keys, oldest first (see listPage): a
// line "name (ID)" and short lines for people, and the columns id, name, created,
// expires, last-used, uses, manage, max-ttl and rate for programs. A page goes on
// from the key after the last one shown (found by its ID, or else by its creation
// time), so that keys created or deleted meanwhile skip no key.
func (c *cmds) listKeys(ctx context.Context, call session.Call, _ []*adhoc.Form) (session.Result, error) {
	offset, cursor, err := parsePage(call.Page)
	if err != nil {
		return session.Result{}, err
	}
	keys, err := c.svc.Keys(ctx, call.Host)
	if err != nil {
		return session.Result{}, err
	}
	if len(keys) == 0 {
		return info("There are no invite API keys for " + call.Host + "."), nil
	}
	start := 0
	if cursor != "" {
		pos, err := core.ParseCursor(cursor)
		if err != nil {
			return session.Result{}, err
		}
		start = slices.IndexFunc(keys, func(k core.Key) bool { return k.ID == pos.ID })
		if start < 0 {
			// The key the page starts at was deleted meanwhile: the first key created in
			// its second or after (one shown already may come again; none is skipped).
			start = slices.IndexFunc(keys, func(k core.Key) bool { return !k.CreatedAt.Before(pos.CreatedAt) })
			if start < 0 {
				start = len(keys)
			}
		}
		// Keys deleted meanwhile: the numbers go on from the last page's.
		offset = min(offset, start)
	}
	if start == len(keys) {
		return info("There are no more invite API keys for " + call.Host + "."), nil
	}
	page := newListPage("keys", "Keys", listColumns[:])
	i := start
	for ; i < len(keys); i++ {
		k := keys[i]
		manage, maxTTL, rate := "no", "", ""
		if k.Manage {
			manage = "yes"
		}
		if k.MaxTTL > 0 {
			maxTTL = core.HumanDuration(k.MaxTTL)
		}
		if !k.Rate.IsZero() {
			rate = k.Rate.String()
		}
		row := []string{k.ID, clip(k.Name, clipText), formatTime(k.CreatedAt), formatTime(k.ExpiresAt), formatTime(k.LastUsed),
			strconv.FormatInt(k.Uses, 10), manage, maxTTL, rate}
		parts := []string{"created " + humanTime(k.CreatedAt), "expires " + humanTime(k.ExpiresAt),
			"last used " + humanTime(k.LastUsed), plural(k.Uses, "use")}
		if k.Manage {
			parts = append(parts, "manages every invite")
		}
		if maxTTL != "" {
			parts = append(parts, "invites live at most "+maxTTL)
		}
		if rate != "" {
			parts = append(parts, "rate limit "+rate)
		}
		if !page.add(entryLines(keyHead(k), parts), row) {
			break
		}
	}
	res := session.Result{}
	if i < len(keys) {
		res.NextPage = pageName(offset+page.n, core.Cursor(core.Position{CreatedAt: keys[i].CreatedAt, ID: keys[i].ID}))
	}
	total := offset + len(keys) - start
	res.Form = page.form("Invite API keys", "The API keys of "+call.Host+", oldest first.",
		pageText("key", offset+1, page.n, total, res.NextPage != ""))
	return res, nil
}

// keyHead is the first line of a key's entry in the key list: its label, with a
// long name clipped so that the ID stays whole.
func keyHead(k core.Key) string {
	if k.Name == "" {
		return k.ID
	}
	return clip(k.Name, max(entryWidth-len(k.ID)-3, 8)) + " (" + k.ID + ")"
}

// keyLabel names a key for people, uniquely: "name (ID)", or the ID alone for a key
// without a name. It is the label of the key's option in the delete form, and
// clients that submit labels instead of values (Gajim) are understood: a label
// cannot be another key's ID or label, since IDs have a fixed length and end it.
func keyLabel(k core.Key) string {
	if k.Name == "" {
		return k.ID
	}
	return k.Name + " (" + k.ID + ")"
}

// keyName is a key's name, or its ID when it has none.
func keyName(k core.Key) string {
	if k.Name == "" {
		return k.ID
	}
	return k.Name
}

func (c *cmds) deleteKeysForm(ctx context.Context, call session.Call, _ []*adhoc.Form) (*adhoc.Form, error) {
	keys, err := c.svc.Keys(ctx, call.Host)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, nil
	}
	fl := adhoc.Field{Var: "keys", Type: adhoc.FieldListMulti, Label: "Keys to delete", Required: true}
	for _, k := range keys {
		fl.Options = append(fl.Options, adhoc.Option{Label: keyLabel(k), Value: k.ID})
	}
	return choiceForm("Delete invite API keys", "Keys are shown as name (ID). Deleted keys stop working at once.", fl), nil
}

func (c *cmds) deleteKeys(ctx context.Context, call session.Call, forms []*adhoc.Form) (session.Result, error) {
	if len(forms) == 0 {
		return info("There are no invite API keys to delete."), nil
	}
	values, err := selected(forms, "keys", "key")
	if err != nil {
		return session.Result{}, err
	}
	keys, err := c.svc.Keys(ctx, call.Host)
	if err != nil {
		return session.Result{}, err
	}
	// A choice is an option's value (the key's ID) or, from clients that submit
	// labels (Gajim), its label: keyLabel keeps both unambiguous.
	byChoice := make(map[string]core.Key, 2*len(keys))
	for _, k := range keys {
		byChoice[keyLabel(k)] = k
	}
	for _, k := range keys {
		byChoice[k.ID] = k
	}
	// Check every choice before deleting anything.
	var chosen []core.Key
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		k, ok := byChoice[v]
		if !ok {
			return session.Result{}, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "keys: no such key " + strconv.Quote(truncate(v, 64))}
		}
		if !seen[k.ID] {
			seen[k.ID] = true
			chosen = append(chosen, k)
		}
	}
	var deleted []string
	var res session.Result
	for _, k := range chosen {
		err := c.svc.DeleteKey(ctx, actor(call, true), call.Host, k.ID)
		if err != nil && !errors.Is(err, core.ErrNotFound) {
			if len(deleted) == 0 {
				return session.Result{}, fmt.Errorf("deleting key %s: %w", k.ID, err)
			}
			res.Notes = append(res.Notes, adhoc.Note{Type: adhoc.NoteError, Text: "Deleting " + keyName(k) + " (" + k.ID + ") failed; the keys after it were not deleted."})
			break
		}
		deleted = append(deleted, keyName(k)+" ("+k.ID+")")
	}
	noun := "keys"
	if len(deleted) == 1 {
		noun = "key"
	}
	res.Notes = append([]adhoc.Note{{
		Type: adhoc.NoteInfo,
		Text: fmt.Sprintf("Deleted %d %s: %s.", len(deleted), noun, strings.Join(deleted, ", ")),
	}}, res.Notes...)
	return res, nil
}

// choiceForm is the one-field form of a stage where the requester picks among the
// options of fl, which it describes (choicesDesc).
func choiceForm(title, instructions string, fl adhoc.Field) *adhoc.Form {
	fl.Desc = choicesDesc(fl.Options)
	return &adhoc.Form{
		Type:         adhoc.FormForm,
		Title:        title,
		Instructions: []string{instructions},
		Fields:       []adhoc.Field{fl},
	}
}

// info is a result that only says text.
func info(text string) session.Result {
	return session.Result{Notes: []adhoc.Note{{Type: adhoc.NoteInfo, Text: text}}}
}

// maxDesc bounds a field's description, below the decoders' bound on a value.
const maxDesc = 3000

// choicesDesc describes a list's options by their labels, in the field's
// description: profanity shows a list's options with their labels only once one is
// chosen, and its help (/form help) shows the options' values, bare IDs, beside the
// description; Gajim shows descriptions as tooltips, poezio not at all.
func choicesDesc(opts []adhoc.Option) string {
	var b strings.Builder
	b.WriteString("The choices: ")
	for i, o := range opts {
		item := o.Label
		if item == "" || item == o.Value {
			item = o.Value
		} else if !strings.Contains(item, o.Value) {
			item += " (" + o.Value + ")"
		}
		if i > 0 {
			item = "; " + item
		}
		if b.Len()+len(item) > maxDesc-40 {
			fmt.Fprintf(&b, "; and %d more.", len(opts)-i)
			return b.String()
		}
		b.WriteString(item)
	}
	b.WriteString(".")
	return b.String()
}

// selected returns the choices submitted in the list-multi field name of the first
// form, or refuses a submission without one, asking for at least one what.
func selected(forms []*adhoc.Form, name, what string) ([]string, error) {
	fl, _ := forms[0].Field(name)
	if vals := choices(fl.Values); len(vals) > 0 {
		return vals, nil
	}
	return nil, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: name + ": select at least one " + what}
}

// choices returns the values of a submitted list-multi field, trimmed, without
// blank ones.
func choices(values []string) []string {
	var out []string
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (c *cmds) createAccountForm(context.Context, session.Call, []*adhoc.Form) (*adhoc.Form, error) {
	return &adhoc.Form{
		Type:         adhoc.FormForm,
		Title:        "Create account invite",
		Instructions: []string{"The invite lets people register accounts on this host: one, unless you say more."},
		Fields: []adhoc.Field{
			text("username", "Username", "Optional: the only name the invite can register; empty lets the invitee choose.", false),
			text("ttl", "Valid for", "Such as 7d or 48h; empty: the host's default.", false),
			text("max-uses", "Accounts it can make", "1 if empty; 0 for any number until it expires.", false),
			text("note", "Note", "Optional: what the invite is for, for whoever lists invites later.", false),
			{Var: "groups", Type: adhoc.FieldTextMulti, Label: "Groups",
				Desc: "Optional, one per line: the new accounts join these groups, and see their members."},
			text("email", "Send by email to", "Optional: the invite is mailed to this address (the mail carries its only link).", false),
			{Var: "welcome", Type: adhoc.FieldTextMulti, Label: "Welcome message",
				Desc: "Optional: what the new accounts read at their first login, instead of the host's welcome."},
			{Var: "approval", Type: adhoc.FieldBoolean, Label: "Approve its accounts",
				Desc: "The accounts it makes wait for an administrator's approval before they can log in."},
		},
	}, nil
}

func (c *cmds) createAccount(ctx context.Context, call session.Call, forms []*adhoc.Form) (session.Result, error) {
	f := submitted(forms, 0)
	username, err := single(f, "username")
	if err != nil {
		return session.Result{}, err
	}
	spec := core.InviteSpec{Host: call.Host, Kind: core.KindAccount, Username: username, Actor: actor(call, true)}
	if err := creationFields(f, &spec); err != nil {
		return session.Result{}, err
	}
	if spec.Approval, err = boolean(f, "approval"); err != nil {
		return session.Result{}, err
	}
	spec.Refused = errors.Join(spec.Refused, c.checkFree(ctx, call.Host, username))
	inv, err := c.svc.CreateInvite(ctx, spec)
	if err != nil {
		return session.Result{}, err
	}
	if inv.Email != "" {
		return mailed(inv), nil
	}
	return c.invitation(inv), nil
}

// checkFree refuses a fixed username that is already an account of host, when the
// host can tell; a lookup failure lets the invite be made (redemption checks again),
// and a malformed name is the core's to refuse.
func (c *cmds) checkFree(ctx context.Context, host, username string) error {
	if username == "" || c.accounts == nil {
		return nil
	}
	name, err := core.NormalizeUsername(username)
	if err != nil {
		return nil
	}
	exists, err := c.accounts.AccountExists(ctx, name+"@"+host)
	if err == nil && exists {
		return core.Refuse(core.ErrConflict, "username", "the account %s@%s already exists", name, host)
	}
	return nil
}

// invite makes a contact invite (XEP-0401 §5.5). Administrators' may register an
// account (";ibr=y"), as may users' when AllowUserInvites is set; users' count against
// the user quota.
func (c *cmds) invite(ctx context.Context, call session.Call, _ []*adhoc.Form) (session.Result, error) {
	j, err := jid.Parse(call.Requester)
	if err != nil || j.Localpart() == "" || !strings.EqualFold(j.Domainpart(), call.Host) {
		// The host vouched for an account; a contact invite names it on this host.
		return session.Result{}, &adhoc.Error{Condition: adhoc.CondForbidden, Text: "only accounts of this server invite contacts"}
	}
	isAdmin := call.Role.AtLeast(adhoc.RoleAdmin)
	spec := core.InviteSpec{
		Host:          call.Host,
		Kind:          core.KindContact,
		Inviter:       j.Localpart(),
		AllowRegister: isAdmin || c.allowUserInvites,
		// An administrator's invite is not a user's (core.Invite.ByUser), for the rules
		// of approval and good standing.
		Actor: actor(call, isAdmin),
	}
	if !isAdmin {
		spec.Actor.Quota = c.quota()
	}
	inv, err := c.svc.CreateInvite(ctx, spec)
	if err != nil {
		return session.Result{}, c.quotaError(err)
	}
	res := c.invitation(inv)
	if !inv.AllowRegister {
		res.Notes = append(res.Notes, adhoc.Note{Type: adhoc.NoteInfo,
			Text: "This invite lets someone who already has an XMPP account add you as a contact; it cannot create an account on this server."})
	}
	return res, nil
}

// quota returns the quota of an ordinary user's invites, nil when there is none.
func (c *cmds) quota() *core.Quota {
	if c.userQuota == (core.Quota{}) {
		return nil
	}
	q := c.userQuota
	return &q
}

// quotaError is err, or when the user quota refused the invite (core.ErrQuota) a
// resource-constraint error saying what the quota allows.
func (c *cmds) quotaError(err error) error {
	if errors.Is(err, core.ErrQuota) {
		return &adhoc.Error{Condition: adhoc.CondResourceConstraint, Text: quotaText(c.userQuota)}
	}
	return err
}

// quotaText says what the user quota allows, in the user's words.
func quotaText(q core.Quota) string {
	var parts []string
	if q.Invites > 0 {
		parts = append(parts, fmt.Sprintf("%d every %s", q.Invites, core.HumanDuration(q.Period)))
	}
	if q.Outstanding > 0 {
		parts = append(parts, fmt.Sprintf("%d waiting to be used at once", q.Outstanding))
	}
	return "you have made as many invites as you may (" + strings.Join(parts, ", ") + "); revoke unused ones with \"Revoke invites\" or try again later"
}

// invitation is the XEP-0401 result form of a new invite.
func (c *cmds) invitation(inv core.Invite) session.Result {
	f := &adhoc.Form{
		Type:  adhoc.FormResult,
		Title: "Invite created",
		Fields: []adhoc.Field{
			{Var: "FORM_TYPE", Type: adhoc.FieldHidden, Values: []string{FormTypeInvitation}},
			value("uri", "Invite URI", c.svc.InviteURI(inv)),
		},
	}
	if page := c.svc.InviteLandingPage(inv); page != "" {
		f.Fields = append(f.Fields, value("landing-url", "Invite web link", page))
	}
	f.Fields = append(f.Fields, value("expire", "Valid until", inv.ExpiresAt.UTC().Format(dateTime)))
	return session.Result{Form: f}
}

// mailed is the result of an invite sent by email: no link is shown, since the mail
// carries the only one.
func mailed(inv core.Invite) session.Result {
	return session.Result{
		Form: &adhoc.Form{Type: adhoc.FormResult, Title: "Invite sent by email", Fields: []adhoc.Field{
			value("id", "Invite", inv.ID),
			value("email", "Mailed to", inv.Email),
			value("expire", "Valid until", inv.ExpiresAt.UTC().Format(dateTime)),
		}},
		Notes: []adhoc.Note{{Type: adhoc.NoteInfo,
			Text: "The mail is on its way with the invite's only link; \"List invites\" shows whether it went out."}},
	}
}

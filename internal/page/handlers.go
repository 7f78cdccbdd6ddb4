package page

import (
	"context"
	"crypto/sha256"
	"errors"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// serveInvite answers /invite?TOKEN, and /invite?TOKEN&decline (serveDecline).
func (h *Handler) serveInvite(w http.ResponseWriter, r *http.Request) {
	t := h.cat.translator(langParam(r), r.Header.Get("Accept-Language"))
	if _, rest := splitBare(r.URL.RawQuery); isDecline(rest) {
		h.serveDecline(w, r, t)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		h.securityHeaders(w)
		h.cors(w)
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		h.methodNotAllowed(w, r, t, "GET, HEAD, OPTIONS")
		return
	}
	h.cors(w)
	if h.limited(w, r, t) {
		return
	}
	token, rest := splitBare(r.URL.RawQuery)
	inv, ok := h.lookup(w, r, t, token)
	if !ok {
		return
	}
	view := h.inviteView(inv, t)
	if view.URI != "" {
		// The first Link: Conversations-family clients take the first <…> of a HEAD.
		w.Header()["Link"] = append([]string{"<" + string(view.URI) + `>; rel="alternate"`}, w.Header()["Link"]...)
	}
	if r.Method == http.MethodHead {
		// The same headers as GET without building the body.
		h.securityHeaders(w)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Language", t.Lang())
		w.WriteHeader(http.StatusOK)
		return
	}
	q, _ := url.ParseQuery(rest) // malformed parts dropped
	d := &Data{T: t, Invite: view, PageURL: h.pageURL(r, token), InviteURL: "invite?" + token}
	if view.Registrable {
		d.RegisterURL = "register?t=" + token
		if l := q.Get("lang"); l != "" {
			d.RegisterURL += "&lang=" + url.QueryEscape(t.Lang())
		}
	}
	d.Platform, d.Platforms, d.Clients = h.clientList(r, q.Get("platform"), token, inv.URI, t)
	webFirst := d.Platform != "" && d.RegisterURL != "" && len(d.Clients) > 0 &&
		!slices.ContainsFunc(d.Clients, func(c ClientView) bool { return c.TakesInvites })
	switch {
	case view.Kind == core.KindReset:
		d.Primary = PrimaryReset
	case webFirst, view.URI == "" && d.RegisterURL != "":
		d.Primary = PrimaryRegister
	case view.URI != "":
		d.Primary = PrimaryOpen
	}
	qr, err := newQR(d.PageURL)
	if err != nil {
		h.log.Warn("no QR code for the invite page", "err", redact(err.Error(), token))
	}
	d.QR = qr
	h.render(w, r, http.StatusOK, "invite.html", d)
	if h.shown != nil {
		h.shown(inv, "invite")
	}
}

// cors sets the CORS headers of the invite page, for web clients reading Link.
func (h *Handler) cors(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Expose-Headers", "Link")
}

// methodNotAllowed answers 405 with Allow.
func (h *Handler) methodNotAllowed(w http.ResponseWriter, r *http.Request, t Translator, allow string) {
	w.Header().Set("Allow", allow)
	h.renderError(w, r, http.StatusMethodNotAllowed, "error.method", t)
}

// lookup finds the usable invite of token, or answers the error page and reports
// false: 404 for a malformed or dead token (a failed attempt), 503 when the store is
// unavailable, 500 otherwise.
func (h *Handler) lookup(w http.ResponseWriter, r *http.Request, t Translator, token string) (Invite, bool) {
	if !validToken(token) {
		h.failed(r)
		h.renderError(w, r, http.StatusNotFound, "error.dead", t)
		return Invite{}, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	inv, err := h.invites.Invite(ctx, token)
	switch {
	case err == nil:
		return inv, true
	case errors.Is(err, ErrInviterInactive):
		// A real invite whose inviter can no longer invite: not an attempt to guess.
		h.renderError(w, r, http.StatusForbidden, "error.inviter", t)
	case errors.Is(err, ErrInviteDead):
		h.failed(r)
		h.renderError(w, r, http.StatusNotFound, "error.dead", t)
	case r.Context().Err() != nil:
		h.log.Debug("invite lookup abandoned: the client went away")
		h.unavailable(w, r, t)
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		h.log.Warn("invite lookup unavailable", "err", redact(err.Error(), token))
		h.unavailable(w, r, t)
	default:
		h.log.Error("invite lookup failed", "err", redact(err.Error(), token))
		h.renderError(w, r, http.StatusInternalServerError, "error.internal", t)
	}
	return Invite{}, false
}

// unavailable answers 503 with Retry-After.
func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, t Translator) {
	w.Header().Set("Retry-After", "5")
	h.renderError(w, r, http.StatusServiceUnavailable, "error.unavailable", t)
}

// inviteView is what the pages show of inv.
func (h *Handler) inviteView(inv Invite, t Translator) *InviteView {
	v := &InviteView{
		Host:        inv.Host,
		Kind:        inv.Kind,
		Inviter:     inv.Inviter,
		Username:    inv.Username,
		Registrable: inv.Registrable(),
		Approval:    inv.Approval && inv.Kind != core.KindReset,
	}
	if v.Kind == "" {
		v.Kind = core.KindAccount
	}
	if inv.Username != "" {
		v.Account = inv.Username + "@" + inv.Host
	}
	if showableURI(inv.URI) {
		v.URI = template.URL(inv.URI)
	} else if inv.URI != "" {
		h.log.Warn("invite URI not shown: not an xmpp: URI fit for a header", "host", inv.Host)
	}
	if !inv.ExpiresAt.IsZero() {
		v.Expires = t.date(inv.ExpiresAt)
		v.ExpiresIn = t.relative(inv.ExpiresAt.Sub(h.now()))
		v.ExpiresISO = inv.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return v
}

// showableURI reports whether s is an xmpp: URI that can go in a Link header as is:
// printable ASCII without spaces, quotes or angle brackets.
func showableURI(s string) bool {
	if !strings.HasPrefix(s, "xmpp:") || len(s) > 2048 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// pageURL is the invite page's own absolute URL.
func (h *Handler) pageURL(r *http.Request, token string) string {
	base := h.baseURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + PathInvite + "?" + token
}

// clientList picks the platform (the platform parameter, else the User-Agent's, else
// all) and the clients to show for it.
func (h *Handler) clientList(r *http.Request, param, token, uri string, t Translator) (Platform, []PlatformLink, []ClientView) {
	var p Platform
	switch {
	case param == "all":
	case slices.Contains(platforms(), Platform(param)):
		p = Platform(param)
	default:
		if d, err := detectPlatform(r.Header.Get("User-Agent")); err == nil {
			p = d
		}
	}
	var links []PlatformLink
	for _, x := range append(platforms(), "") {
		name := string(x)
		if x == "" {
			name = "all"
		}
		links = append(links, PlatformLink{
			Platform: x,
			Name:     t.Get("platform." + name),
			URL:      withParam(r, "platform", name) + "#apps",
			Current:  x == p,
		})
	}
	var views []ClientView
	for _, c := range h.clients {
		if p != "" && !slices.Contains(c.Platforms, p) {
			continue
		}
		v := ClientView{Name: c.Name, Website: c.Website, TakesInvites: c.TakesInvites}
		for _, cp := range c.Platforms {
			v.Platforms = append(v.Platforms, t.Get("platform."+string(cp)))
		}
		for _, l := range c.Links {
			if p != "" && len(l.Platforms) > 0 && !slices.Contains(l.Platforms, p) {
				continue
			}
			l.URL = strings.ReplaceAll(l.URL, "{uri}", url.QueryEscape(uri))
			l.Label = t.label(l.Label)
			v.Links = append(v.Links, l)
		}
		views = append(views, v)
	}
	// Those taking invite links first, else in the operator's order.
	slices.SortStableFunc(views, func(a, b ClientView) int {
		switch {
		case a.TakesInvites == b.TakesInvites:
			return 0
		case a.TakesInvites:
			return -1
		}
		return 1
	})
	return p, links, views
}

// serveRegister answers /register.
func (h *Handler) serveRegister(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.registerForm(w, r)
	case http.MethodPost:
		h.registerPost(w, r)
	default:
		t := h.cat.translator(langParam(r), r.Header.Get("Accept-Language"))
		h.methodNotAllowed(w, r, t, "GET, HEAD, POST")
	}
}

// registerForm answers GET /register?t=TOKEN with an empty form.
func (h *Handler) registerForm(w http.ResponseWriter, r *http.Request) {
	q, _ := url.ParseQuery(r.URL.RawQuery) // malformed parts dropped
	t := h.cat.translator(q.Get("lang"), r.Header.Get("Accept-Language"))
	if h.limited(w, r, t) {
		return
	}
	token := q.Get("t")
	inv, ok := h.lookup(w, r, t, token)
	if !ok {
		return
	}
	if !inv.Registrable() {
		h.render(w, r, http.StatusBadRequest, "error.html", &Data{T: t, Error: &ErrorView{
			Heading: t.Get("error.dead.heading"), Body: t.Get("error.not_registrable"),
		}})
		return
	}
	h.showForm(w, r, http.StatusOK, t, token, inv, registerForm{}, "")
	if h.shown != nil && r.Method == http.MethodGet {
		h.shown(inv, "register")
	}
}

// showForm renders the form of inv at status, with the username and note typed before
// (sent) and the reasons (in the page's language) it was refused, if any, and the field
// at fault ("username", "password", "note" or "").
func (h *Handler) showForm(w http.ResponseWriter, r *http.Request, status int, t Translator, token string, inv Invite, sent registerForm, field string, reasons ...string) {
	view := h.inviteView(inv, t)
	f := &FormView{
		Token:       token,
		CSRF:        csrfToken(h.csrfKey, token, h.now()),
		Username:    sent.Username,
		Reset:       view.Kind == core.KindReset,
		MinPassword: h.password.MinLength(),
		Errors:      reasons,
		ErrorField:  field,
		Approval:    view.Approval,
		Note:        sent.Note,
		MaxNote:     core.MaxNoteLen,
	}
	if inv.Username != "" && (view.Kind == core.KindAccount || view.Kind == core.KindReset) {
		f.FixedUsername = true
		f.Username = inv.Username
	}
	h.render(w, r, status, "register.html", &Data{T: t, Invite: view, Form: f, InviteURL: "invite?" + token})
}

// fieldOf names the form field a refusal's message key is about.
func fieldOf(key string) string {
	switch {
	case strings.HasPrefix(key, "error.username"), strings.HasPrefix(key, "error.name"):
		return "username"
	case strings.HasPrefix(key, "error.password"):
		return "password"
	case strings.HasPrefix(key, "error.note"):
		return "note"
	}
	return ""
}

// registerPost answers POST /register: check, register, answer the success page or
// the form again with the reason.
func (h *Handler) registerPost(w http.ResponseWriter, r *http.Request) {
	t := h.cat.translator(langParam(r), r.Header.Get("Accept-Language"))
	if h.limited(w, r, t) {
		return
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/x-www-form-urlencoded" {
		h.failed(r)
		h.renderError(w, r, http.StatusUnsupportedMediaType, "error.method", t)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.failed(r)
			h.render(w, r, http.StatusRequestEntityTooLarge, "error.html", &Data{T: t, Error: &ErrorView{
				Heading: t.Get("error.title"), Body: t.Get("error.too_large"),
			}})
			return
		}
		return // the client went away
	}
	f, err := parseRegisterForm(body)
	var fe *formError
	if errors.As(err, &fe) && f.Token == "" {
		// Nothing to show the form again for.
		h.failed(r)
		h.render(w, r, http.StatusBadRequest, "error.html", &Data{T: t, Error: &ErrorView{
			Heading: t.Get("error.title"), Body: t.Get(fe.key),
		}})
		return
	}
	if f.Lang != "" {
		t = h.cat.translator(f.Lang, r.Header.Get("Accept-Language"))
	}
	// A form sent again (a double click on a slow connection) gets what the first
	// sending became, before its invite, spent by then, is looked up.
	var key [sha256.Size]byte
	remember := err == nil && !h.crossSite(r) && csrfValid(h.csrfKey, f.Token, f.CSRF, h.now(), h.formTTL)
	if remember {
		key = submissionKey(h.csrfKey, f)
		if sub := h.subs.get(key, h.now()); sub != nil && h.resubmitted(w, r, t, sub) {
			return
		}
	}
	inv, ok := h.lookup(w, r, t, f.Token)
	if !ok {
		return
	}
	if !inv.Registrable() {
		h.failed(r)
		h.render(w, r, http.StatusBadRequest, "error.html", &Data{T: t, Error: &ErrorView{
			Heading: t.Get("error.dead.heading"), Body: t.Get("error.not_registrable"),
		}})
		return
	}
	refuse := func(status int, reason string, args ...any) {
		h.failed(r)
		h.showForm(w, r, status, t, f.Token, inv, f, fieldOf(reason), t.Get(reason, args...))
	}
	if err != nil {
		refuse(http.StatusBadRequest, fe.key)
		return
	}
	if h.crossSite(r) || !csrfValid(h.csrfKey, f.Token, f.CSRF, h.now(), h.formTTL) {
		refuse(http.StatusForbidden, "error.csrf")
		return
	}
	kind := inv.Kind
	if kind == "" {
		kind = core.KindAccount
	}
	username := f.Username
	if at := strings.LastIndexByte(username, '@'); at >= 0 && strings.EqualFold(username[at+1:], inv.Host) {
		username = username[:at] // "name@host" typed in full
	}
	switch {
	case inv.Username != "" && (kind == core.KindAccount || kind == core.KindReset):
		if username != "" && !strings.EqualFold(username, inv.Username) {
			refuse(http.StatusBadRequest, "error.name_not_allowed")
			return
		}
		username = inv.Username
	case kind == core.KindReset:
		// The host knows the account from the token.
	case username == "":
		refuse(http.StatusBadRequest, "error.username_missing")
		return
	case strings.ContainsAny(username, "\"&'/:<>@"):
		refuse(http.StatusBadRequest, "error.username_invalid")
		return
	}
	policyName := username
	if policyName == "" {
		policyName = inv.Username // a reset invite's account
	}
	if f.Password == "" {
		refuse(http.StatusBadRequest, "error.password_missing")
		return
	}
	if err := h.password.Check(f.Password, policyName); err != nil {
		h.failed(r)
		h.showForm(w, r, http.StatusBadRequest, t, f.Token, inv, f, "password", t.PasswordRefusals(err)...)
		return
	}
	if f.Password != f.PasswordConfirm {
		refuse(http.StatusBadRequest, "error.password_mismatch")
		return
	}
	note := ""
	if inv.Approval && kind != core.KindReset {
		// Checked as an invite's note is; without approval the field is not asked for.
		if core.CheckNote(f.Note) != nil {
			refuse(http.StatusBadRequest, "error.note_invalid", core.MaxNoteLen)
			return
		}
		note = f.Note
	}
	var sub *submission
	if remember {
		for range 3 { // each turn waits for a sending that made no account
			var first bool
			if sub, first = h.subs.begin(key, h.now()); first {
				break
			}
			if h.resubmitted(w, r, t, sub) {
				return
			}
			sub = nil
		}
	}
	// Not cancelled with the request: a browser that gives up on a slow answer (or
	// sends the form again) must not leave the registration half made.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.timeout)
	defer cancel()
	acc, err := h.registrar.Register(ctx, Registration{Host: inv.Host, Token: f.Token, Username: username, Password: f.Password, Note: note,
		Approval: inv.Approval && kind != core.KindReset})
	if sub != nil {
		h.subs.finish(sub, err == nil, acc, inv)
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrInviterInactive):
		h.renderError(w, r, http.StatusForbidden, "error.inviter", t)
		return
	case errors.Is(err, ErrInviteDead):
		h.failed(r)
		h.renderError(w, r, http.StatusNotFound, "error.dead", t)
		return
	case errors.Is(err, ErrNameTaken):
		refuse(http.StatusConflict, "error.name_taken")
		return
	case errors.Is(err, ErrInvalidName):
		refuse(http.StatusBadRequest, "error.username_invalid")
		return
	case errors.Is(err, ErrInvalidPassword):
		refuse(http.StatusBadRequest, "error.password_invalid")
		return
	case errors.Is(err, ErrNameNotAllowed):
		refuse(http.StatusBadRequest, "error.name_not_allowed")
		return
	case r.Context().Err() != nil:
		// The client went away; the host's guarantees say what became of the account.
		h.log.Warn("web registration abandoned: the client went away", "host", inv.Host)
		h.unavailable(w, r, t)
		return
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		h.log.Warn("web registration unavailable", "host", inv.Host, "err", redact(err.Error(), f.Token, f.Password))
		h.unavailable(w, r, t)
		return
	default:
		h.log.Error("web registration failed", "host", inv.Host, "err", redact(err.Error(), f.Token, f.Password))
		h.renderError(w, r, http.StatusInternalServerError, "error.internal", t)
		return
	}
	h.log.Info("web registration", "host", inv.Host, "kind", string(kind), "jid", acc.JID, "pending", acc.Pending)
	h.renderSuccess(w, r, t, inv, acc)
}

// renderSuccess answers the success page of the account acc made with inv.
func (h *Handler) renderSuccess(w http.ResponseWriter, r *http.Request, t Translator, inv Invite, acc Account) {
	h.render(w, r, http.StatusOK, "success.html", &Data{
		T:         t,
		Invite:    h.inviteView(inv, t),
		JID:       acc.JID,
		Pending:   acc.Pending,
		LoginNote: h.loginNote,
	})
}

// resubmitted waits for the first sending of a form sent again and, when it made the
// account, answers its success page and reports true; false means it made none and
// this sending goes its own way. A wait longer than Options.Timeout answers 503.
func (h *Handler) resubmitted(w http.ResponseWriter, r *http.Request, t Translator, sub *submission) bool {
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	select {
	case <-sub.done:
	case <-ctx.Done():
		h.log.Warn("web registration sent again: the first sending is still running")
		h.unavailable(w, r, t)
		return true
	}
	if !sub.ok {
		return false
	}
	h.log.Info("web registration sent again: answered with the account it made", "host", sub.inv.Host, "jid", sub.acc.JID)
	h.renderSuccess(w, r, t, sub.inv, sub.acc)
	return true
}

// crossSite reports whether a browser says the POST comes from another site: Fetch
// metadata, or an Origin other than this server (the request's Host or BaseURL's).
// Browsers send "Origin: null" under Referrer-Policy: no-referrer, which tells
// nothing, and old ones send neither: the form token is the check that always holds.
func (h *Handler) crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return true
	}
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil {
		return true
	}
	if strings.EqualFold(u.Host, r.Host) {
		return false
	}
	if b, err := url.Parse(h.baseURL); err == nil && h.baseURL != "" && strings.EqualFold(u.Host, b.Host) {
		return false
	}
	return true
}

// isDecline reports whether the query after the token asks for the decline page.
func isDecline(rest string) bool {
	for _, p := range strings.Split(rest, "&") {
		if p == "decline" || strings.HasPrefix(p, "decline=") {
			return true
		}
	}
	return false
}

// serveDecline answers /invite?TOKEN&decline: GET shows the invite's decline page, a
// form; POST (with the form's CSRF token, from this site) revokes the invite and says
// so. A dead token gets the dead-invite page, as on the invite page.
func (h *Handler) serveDecline(w http.ResponseWriter, r *http.Request, t Translator) {
	if h.decline == nil {
		h.renderError(w, r, http.StatusNotFound, "error.notfound", t)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		h.methodNotAllowed(w, r, t, "GET, HEAD, POST")
		return
	}
	if h.limited(w, r, t) {
		return
	}
	token, _ := splitBare(r.URL.RawQuery)
	inv, ok := h.lookup(w, r, t, token)
	if !ok {
		return
	}
	d := &Data{T: t, Invite: h.inviteView(inv, t), InviteURL: "invite?" + token,
		Decline: &DeclineView{Action: "invite?" + token + "&decline", CSRF: csrfToken(h.csrfKey, token, h.now())}}
	if r.Method != http.MethodPost {
		h.render(w, r, http.StatusOK, "decline.html", d)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		h.failed(r)
		h.renderError(w, r, http.StatusRequestEntityTooLarge, "error.method", t)
		return
	}
	form, _ := url.ParseQuery(string(body))
	if l := form.Get("lang"); l != "" {
		t = h.cat.translator(l, r.Header.Get("Accept-Language"))
		d.T, d.Invite = t, h.inviteView(inv, t)
	}
	if h.crossSite(r) || !csrfValid(h.csrfKey, token, form.Get("csrf"), h.now(), h.formTTL) {
		h.failed(r)
		h.renderError(w, r, http.StatusForbidden, "error.csrf", t)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.timeout)
	defer cancel()
	switch err := h.decline(ctx, token); {
	case err == nil:
	case errors.Is(err, ErrInviteDead):
		h.renderError(w, r, http.StatusNotFound, "error.dead", t)
		return
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		h.unavailable(w, r, t)
		return
	default:
		h.log.Error("declining an invite failed", "err", redact(err.Error(), token))
		h.renderError(w, r, http.StatusInternalServerError, "error.internal", t)
		return
	}
	h.log.Info("invite declined by its holder", "host", inv.Host)
	d.Decline.Done = true
	h.render(w, r, http.StatusOK, "decline.html", d)
}

package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/clientaddr"
	"github.com/xmpp-invites/invites/internal/core"
)

// Service is what the handler needs of the core; *core.Service implements it.
// It is declared here so that the handler can be tested and served across a process
// boundary without knowing how the core is reached.
type Service interface {
	// Authenticate checks a credential "ID/SECRET" and returns its key.
	// It fails with errors matching core.ErrInvalid (malformed), core.ErrForbidden
	// (unknown ID or wrong secret) or core.ErrExpired; any other error is a store
	// failure.
	Authenticate(ctx context.Context, credential string) (core.Key, error)
	// CreateKeyInvite makes an account invite on behalf of the key, bounded by the
	// key's and the host's limits, recording the source "api/token/ID".
	// It fails with errors matching core.ErrInvalid (a bad ttl or username),
	// core.ErrRateLimited (a *core.RateLimitError says how long to wait) or
	// core.ErrUnknownHost; any other error is a store failure.
	CreateKeyInvite(ctx context.Context, k core.Key, spec core.InviteSpec) (core.Invite, error)
	// InviteURI returns the xmpp: URI of a just-created invite.
	InviteURI(inv core.Invite) string
	// InviteLandingPage returns the landing page of a just-created invite, or "" when
	// its host has none.
	InviteLandingPage(inv core.Invite) string
	// ListInvites returns a page of the invites of the actor's host that the actor may
	// see (its own, or every one for a key with Manage), newest first.
	// It fails with core.ErrInvalid for a bad status, limit or cursor.
	ListInvites(ctx context.Context, by core.Actor, q core.InviteQuery) (core.InvitePage, error)
	// Invite returns an invite with its redemptions; core.ErrNotFound for one the actor
	// may not see.
	Invite(ctx context.Context, by core.Actor, host, id string) (core.Invite, error)
	// ResendInvite mails a pending invite the actor may see again, to email or its
	// address, with a fresh token; core.ErrConflict when it cannot be.
	ResendInvite(ctx context.Context, by core.Actor, host, id, email string) (core.Invite, error)
	// UpdateInvite changes an invite the actor may see; core.ErrInvalid for a change out
	// of bounds, core.ErrConflict for one its state refuses.
	UpdateInvite(ctx context.Context, by core.Actor, host, id string, p core.InvitePatch) (core.Invite, error)
	// RevokeInvite withdraws an invite the actor may see; revoking twice is no error.
	RevokeInvite(ctx context.Context, by core.Actor, host, id string) (core.Invite, error)
}

// AccountChecker tells which accounts exist; plugin.HostAPI is one. With it, an invite
// for a fixed username that is already an account is refused (409) rather than made
// to fail at redemption.
type AccountChecker interface {
	// AccountExists reports whether the bare JID is a registered account.
	AccountExists(ctx context.Context, jid string) (bool, error)
}

// DefaultBasePath is where the API is mounted unless Options.BasePath says otherwise:
// plugin.PathAPI, mod_invites_api's path.
const DefaultBasePath = "/invites_api"

// Defaults for the zero fields of Options that Config does not set.
const (
	// defaultMaxURLBytes bounds the request target (8 KiB, what RFC 9110 asks every
	// server to support).
	defaultMaxURLBytes = 8 << 10
	// defaultMaxHeaderBytes bounds the request's header fields, names and values.
	defaultMaxHeaderBytes = 32 << 10
	// defaultMaxClients bounds how many client addresses the failed-authentication
	// limiter remembers.
	defaultMaxClients = 1 << 16
)

// Options configure a Handler; Config.Options gives those of the [http] table.
// The zero value of each field means its documented default.
type Options struct {
	// MaxBodyBytes bounds a request body; a larger one gets 413.
	// Zero or less means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxURLBytes bounds the request target (path and query); a longer one gets 414.
	// Zero or less means 8 KiB.
	MaxURLBytes int
	// MaxHeaderBytes bounds the header fields, counting names and values; more gets 431.
	// The server's own http.Server.MaxHeaderBytes still applies before this.
	// Zero or less means 32 KiB.
	MaxHeaderBytes int
	// FailedAuthCount and FailedAuthPeriod are how many failed authentications one
	// client address may make per period (refilled steadily) before its requests get
	// 429; a failure naming an existing key also counts against that key's own budget
	// (the same rate) from that address, and a key whose budget there is not spent
	// keeps working.
	// Both zero mean 20 a minute; a negative count turns the limit off.
	FailedAuthCount  int
	FailedAuthPeriod time.Duration
	// MaxClients bounds how many client addresses, and how many (address, key) pairs,
	// the failed-authentication limiter remembers; past it, the entries closest to a
	// full budget are forgotten.
	// Zero or less means 65536.
	MaxClients int
	// TrustedProxies are the addresses of reverse proxies whose X-Forwarded-For is
	// believed: when the connection comes from one, the client is the right-most
	// address in X-Forwarded-For that is not itself a trusted proxy.
	// Empty (the default) means X-Forwarded-For is ignored.
	TrustedProxies []netip.Prefix
	// Logger receives one debug line per request (keys redacted), an info line per
	// failed authentication, and store failures; nil discards.
	Logger *slog.Logger
	// Now returns the current time for the failed-authentication limiter and the
	// statuses of invites; nil means time.Now.
	Now func() time.Time
	// BasePath is the path the API is mounted at: creation there, the invite lifecycle
	// at BasePath/invites and BasePath/invites/ID, and 404 for any other path.
	// Empty means DefaultBasePath.
	BasePath string
	// Accounts, when not nil, says which accounts exist, so that an invite for a fixed
	// username that is taken is refused. A failed lookup lets the invite be made (the
	// redemption checks again).
	Accounts AccountChecker
}

// Handler serves the invite API; build it with New, over a Service (what it needs of
// the core); the plugin mounts it at plugin.PathAPI with the Options of its Config.
// GET or POST on the base path (/invites_api) creates an account invite for the
// holder of an API key; below it, BASE/invites lists invites and BASE/invites/ID
// shows, changes (a JSON merge patch, RFC 7396) or revokes one; keys made with
// --manage also see who invited whom (BASE/accounts…: trees, chains of inviters, bulk
// actions with a dry run) and decide on pending accounts. Errors are problem details
// (RFC 9457, WriteError) for clients that accept JSON, short text otherwise; every
// answer carries the CORS headers and Cache-Control: no-store. It knows nothing of
// go-plugin or the process boundary.
// It is safe for concurrent use.
//
// The API key comes from the Authorization header (Bearer, the scheme's name in any
// case), the key query parameter, or for POST a key form field; several at once must
// carry the same key (400 else). Another scheme (Basic, for a proxy) is ignored.
//
// Failed authentications (a malformed, unknown, wrong, expired or deleted key; no key
// is no failure) are budgeted per client address (an IPv4 address or an IPv6 /64) and,
// for a failure naming an existing key, per key from that address (Options'
// FailedAuthCount per FailedAuthPeriod); a spent budget answers 429 with Retry-After,
// and a valid key keeps working from an address where others fail with other keys.
// The address is the connection's; X-Forwarded-For counts only from TrustedProxies.
//
// Each request is logged at debug level with its URL, the value of any key parameter
// replaced by REDACTED; the Authorization header and the body are never logged.
type Handler struct {
	svc       Service
	accounts  AccountChecker // may be nil
	base      string
	maxBody   int64
	maxURL    int
	maxHeader int
	clients   clientaddr.Resolver
	failed    *authLimiter   // nil when the limit is off
	acc       AccountService // nil: no account endpoints (accounts.go)
	log       *slog.Logger
	now       func() time.Time
}

// New returns a Handler creating invites through svc.
// It panics if svc is nil, a mistake of setup.
func New(svc Service, opts Options) *Handler {
	if svc == nil {
		panic("httpapi: nil Service")
	}
	h := &Handler{
		svc:       svc,
		accounts:  opts.Accounts,
		base:      opts.BasePath,
		maxBody:   opts.MaxBodyBytes,
		maxURL:    opts.MaxURLBytes,
		maxHeader: opts.MaxHeaderBytes,
		clients:   clientaddr.NewResolver(opts.TrustedProxies),
		log:       opts.Logger,
		now:       opts.Now,
	}
	h.acc, _ = svc.(AccountService)
	if h.base == "" {
		h.base = DefaultBasePath
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.maxURL <= 0 {
		h.maxURL = defaultMaxURLBytes
	}
	if h.maxHeader <= 0 {
		h.maxHeader = defaultMaxHeaderBytes
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	rate := core.Rate{N: opts.FailedAuthCount, Period: opts.FailedAuthPeriod}
	if rate.N == 0 && rate.Period == 0 {
		rate = core.Rate{N: defaultFailedAuthCount, Period: defaultFailedAuthPeriod}
	}
	if rate.N > 0 && rate.Period > 0 {
		maxClients := opts.MaxClients
		if maxClients <= 0 {
			maxClients = defaultMaxClients
		}
		h.failed = newAuthLimiter(rate, maxClients)
	}
	return h
}

// Header values shared by every response.
const (
	allowedHeaders = "Authorization, Content-Type"
	exposedHeaders = "Location, Retry-After"
	corsMaxAge     = "7200"
)

// endpoint is a resource of the API.
type endpoint int

const (
	epNone   endpoint = iota // a path the API does not serve: 404
	epCreate                 // BasePath: create an invite
	epList                   // BasePath/invites: list invites
	epInvite                 // BasePath/invites/ID: one invite
	epResend                 // BasePath/invites/ID/resend: mail it again
)

// methods lists the methods an endpoint serves, for Allow and CORS.
func (ep endpoint) methods() string {
	if m, ok := accountMethods(ep); ok {
		return m
	}
	switch ep {
	case epList:
		return "GET, OPTIONS"
	case epInvite:
		return "GET, PATCH, DELETE, OPTIONS"
	case epResend:
		return "POST, OPTIONS"
	}
	return "GET, POST, OPTIONS"
}

// allows reports whether the endpoint serves method (OPTIONS aside).
func (ep endpoint) allows(method string) bool {
	if m, ok := accountMethods(ep); ok {
		return strings.Contains(m, method+",")
	}
	switch ep {
	case epCreate:
		return method == http.MethodGet || method == http.MethodPost
	case epList:
		return method == http.MethodGet
	case epInvite:
		return method == http.MethodGet || method == http.MethodPatch || method == http.MethodDelete
	case epResend:
		return method == http.MethodPost
	}
	return false
}

// route returns the endpoint a request's path names, and the invite ID for epInvite.
func (h *Handler) route(r *http.Request) (endpoint, string) {
	if r.URL == nil {
		return epNone, ""
	}
	rest, ok := strings.CutPrefix(r.URL.Path, h.base)
	switch {
	case !ok:
		return epNone, ""
	case rest == "":
		return epCreate, ""
	case rest == "/invites":
		return epList, ""
	}
	if ep, id := accountRoute(rest); ep != epNone {
		return ep, id
	}
	id, ok := strings.CutPrefix(rest, "/invites/")
	if rid, found := strings.CutSuffix(id, "/resend"); ok && found && rid != "" && !strings.Contains(rid, "/") {
		return epResend, rid
	}
	if !ok || id == "" || strings.Contains(id, "/") {
		return epNone, ""
	}
	return epInvite, id
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	ep, id := h.route(r)
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", "*")
	hdr.Set("Access-Control-Allow-Methods", ep.methods())
	hdr.Set("Access-Control-Allow-Headers", allowedHeaders)
	hdr.Set("Access-Control-Expose-Headers", exposedHeaders)
	hdr.Set("Access-Control-Max-Age", corsMaxAge)
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")

	status, err := h.serve(w, r, ep, id)
	if err != nil {
		status = h.writeError(w, r, err, ep)
	}
	if h.log.Enabled(r.Context(), slog.LevelDebug) {
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "invites api request",
			slog.String("method", r.Method),
			slog.String("url", redactURL(r)),
			slog.Int("status", status),
			slog.String("remote", r.RemoteAddr),
			slog.Duration("duration", h.now().Sub(start)))
	}
}

// serve answers one request; on success it writes the response and returns its
// status, otherwise it writes nothing and returns an error for writeError.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, ep endpoint, id string) (int, error) {
	if err := h.checkBounds(r); err != nil {
		return 0, err
	}
	if ep == epNone {
		return 0, &statusError{status: http.StatusNotFound, detail: "no such endpoint"}
	}
	if r.Method == http.MethodOptions {
		w.Header().Set("Allow", ep.methods())
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent, nil
	}
	if !ep.allows(r.Method) {
		return 0, &statusError{status: http.StatusMethodNotAllowed,
			detail: "method " + strconv.Quote(r.Method) + " not allowed here; use " + strings.TrimSuffix(ep.methods(), ", OPTIONS")}
	}
	if _, ok := accountMethods(ep); ok {
		return h.serveAccounts(w, r, ep, id)
	}
	switch ep {
	case epList:
		return h.list(w, r)
	case epResend:
		return h.resend(w, r, id)
	case epInvite:
		switch r.Method {
		case http.MethodPatch:
			return h.patch(w, r, id)
		case http.MethodDelete:
			return h.revoke(w, r, id)
		}
		return h.show(w, r, id)
	}
	return h.create(w, r)
}

// create answers GET and POST on BasePath: it makes an account invite.
func (h *Handler) create(w http.ResponseWriter, r *http.Request) (int, error) {
	p, err := h.readParams(r)
	if err != nil {
		return 0, err
	}
	ctx := r.Context()
	key, by, err := h.authenticate(r, p.credential)
	if err != nil {
		return 0, err
	}
	// Every refusal of the request is reported at once: the parameters' syntax, a
	// taken username and the core's own.
	inv, err := h.svc.CreateKeyInvite(ctx, key, core.InviteSpec{
		Kind:     core.KindAccount,
		Username: p.username,
		TTL:      p.ttl,
		MaxUses:  p.maxUses,
		Note:     p.note,
		Groups:   p.groups,
		Email:    p.email,
		Welcome:  p.welcome,
		Approval: p.approval,
		Actor:    core.Actor{Remote: by.Remote}, // for the audit log
		Refused:  errors.Join(p.refused, h.checkFree(ctx, key.Host, p.username)),
	})
	if err != nil {
		return 0, err
	}
	uri := h.svc.InviteURI(inv)
	landing := h.svc.InviteLandingPage(inv)
	location := landing
	if location == "" {
		location = uri
	}
	if inv.Email != "" {
		// Mailed: the mail carries the only token; the client gets the resource.
		uri, landing, location = "", "", h.base+"/invites/"+inv.ID
	}
	h.log.LogAttrs(ctx, slog.LevelDebug, "invite created",
		slog.String("invite_id", inv.ID), slog.String("key_id", key.ID), slog.String("host", inv.Host))

	status := http.StatusCreated
	if p.redirect {
		status = http.StatusSeeOther
	}
	w.Header().Set("Location", location)
	if !accepts(r.Header, "application/json") {
		w.WriteHeader(status)
		return status, nil
	}
	body := NewInvite(inv, h.now())
	body.Token, body.URI, body.LandingPage = inv.Token, uri, landing
	return writeJSON(w, status, body)
}

// checkFree refuses a fixed username that is already an account of host, when the
// host can tell; a failed lookup lets the invite be made, since redemption checks
// again.
func (h *Handler) checkFree(ctx context.Context, host, username string) error {
	if username == "" || h.accounts == nil {
		return nil
	}
	name, err := core.NormalizeUsername(username)
	if err != nil {
		return nil // the core refuses it with its reason
	}
	exists, err := h.accounts.AccountExists(ctx, name+"@"+host)
	if err != nil {
		h.log.LogAttrs(ctx, slog.LevelWarn, "cannot tell whether an account exists", slog.Any("err", err))
		return nil
	}
	if exists {
		return core.Refuse(core.ErrConflict, core.FieldUsername, "the account %s@%s already exists", name, host)
	}
	return nil
}

// writeJSON answers with status and v as a JSON body.
func writeJSON(w http.ResponseWriter, status int, v any) (int, error) {
	body, err := json.Marshal(v)
	if err != nil { // cannot happen with these types; never leave the client without an answer
		return 0, &statusError{status: http.StatusInternalServerError, err: err}
	}
	body = append(body, '\n')
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a failed write means the client left; nothing to tell it
	return status, nil
}

// checkBounds rejects requests whose target or header fields are too large.
func (h *Handler) checkBounds(r *http.Request) error {
	n := len(r.RequestURI)
	if n == 0 && r.URL != nil {
		n = len(r.URL.Path) + 1 + len(r.URL.RawQuery)
	}
	if n > h.maxURL {
		return &statusError{status: http.StatusRequestURITooLong,
			detail: "request target longer than " + strconv.Itoa(h.maxURL) + " bytes"}
	}
	if r.URL == nil {
		return &statusError{status: http.StatusBadRequest, detail: "no request target"}
	}
	size := len(r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			size += len(k) + len(v) + 4 // ": " and CRLF
		}
		if size > h.maxHeader {
			return &statusError{status: http.StatusRequestHeaderFieldsTooLarge,
				detail: "header fields larger than " + strconv.Itoa(h.maxHeader) + " bytes"}
		}
	}
	return nil
}

// authError maps an authentication failure to its 403, or returns nil for a store
// failure.
func authError(err error) *statusError {
	switch {
	case errors.Is(err, core.ErrInvalid):
		return &statusError{status: http.StatusForbidden, detail: "malformed API key"}
	case errors.Is(err, core.ErrExpired):
		return &statusError{status: http.StatusForbidden, detail: "API key expired"}
	case errors.Is(err, core.ErrForbidden), errors.Is(err, core.ErrNotFound):
		return &statusError{status: http.StatusForbidden, detail: "invalid API key"}
	}
	return nil
}

// Interface guards.
var (
	_ Service      = (*core.Service)(nil)
	_ http.Handler = (*Handler)(nil)
)

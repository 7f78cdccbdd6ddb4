package page

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xmpp-invites/invites/internal/clientaddr"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/gcra"
	"github.com/xmpp-invites/invites/internal/httpstatus"
	"github.com/xmpp-invites/invites/internal/password"
)

// The paths the Handler serves, as in the host contract (version 2).
const (
	// PathInvite is the landing page, GET /invite?TOKEN (the shape of Prosody's
	// mod_invites_page): the core's, which builds the invites' links to it.
	PathInvite = core.PathInvite
	// PathRegister is web registration, GET and POST /register (field t = token).
	PathRegister = "/register"
)

// Defaults of Options.
const (
	// DefaultFailedAttempts is how many failed attempts one client address may make
	// per DefaultFailedPeriod before its requests get 429.
	DefaultFailedAttempts = 10
	// DefaultFailedPeriod is how long an empty budget of failed attempts takes to
	// refill.
	DefaultFailedPeriod = 10 * time.Minute
	// DefaultMaxClients bounds how many client addresses the limiter remembers.
	DefaultMaxClients = 10000
	// DefaultFormTTL is how long a registration form can be submitted after it was
	// shown.
	DefaultFormTTL = 2 * time.Hour
	// DefaultTimeout bounds each call to Invites and Registrar.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxBodyBytes bounds a POST /register body.
	DefaultMaxBodyBytes = 16 << 10
	// maxSubmissions bounds how many registration forms the Handler remembers the
	// outcome of (for forms sent twice).
	maxSubmissions = 10000
)

// Options configure a Handler.
// The zero value of each field means its documented default.
type Options struct {
	// SiteName is the operator's name for the service, shown in every page's header
	// and title, such as "Example Chat". Empty means the invite's host.
	SiteName string
	// LogoURL is the operator's logo, shown beside the site name: an https: or http:
	// URL, or an absolute path on this server such as "/logo.svg". The
	// Content-Security-Policy allows images from its origin. Empty means none.
	LogoURL string
	// BaseURL is the public URL the pages are reached under, without the trailing
	// slash, such as "https://chat.example.org" (the host's HTTP base URL). The QR code
	// shows BaseURL + "/invite?" + token. Empty means the scheme and Host of each
	// request, which a client can forge (only for itself): set it.
	BaseURL string
	// Clients is the client list the invite page suggests (see ReadClients to load it
	// from a file). Nil means DefaultClients; an empty, non-nil list shows none.
	Clients []Client
	// Languages are the BCP 47 tags of the languages the pages are offered in, the
	// first the default for a visitor whose Accept-Language matches none. Each needs
	// lang/TAG.json, embedded (en, de, fr) or in Templates. Empty means en, de, fr.
	Languages []string
	// Templates overrides files of the embedded templates by name: layout.html,
	// invite.html, register.html, success.html, error.html, decline.html, style.css and
	// lang/TAG.json (the doc.go of this package describes them and their data),
	// such as os.DirFS("/etc/invites/page"). A file it lacks keeps the embedded one.
	// Nil means the embedded templates only.
	Templates fs.FS
	// LoginNote is plain text the success page shows under "how to sign in", such as
	// the server name and port to enter in clients that ask for them, or a note on the
	// server's certificate. Empty means none.
	LoginNote string
	// Password is the password policy new passwords must follow (package password);
	// the host may refuse more. Nil means the default policy.
	Password *password.Policy
	// FailedAttempts is how many failed attempts (dead tokens, refused forms) one
	// client address may make per FailedPeriod, refilled steadily, before all its
	// requests get 429. Zero means DefaultFailedAttempts; negative turns the limit off.
	FailedAttempts int
	// FailedPeriod is how long an empty budget takes to refill. Zero or less means
	// DefaultFailedPeriod.
	FailedPeriod time.Duration
	// MaxClients bounds how many client addresses the limiter remembers; past it the
	// least useful are forgotten. Zero or less means DefaultMaxClients.
	MaxClients int
	// ClientAddr returns the client address of a request, which the limiter counts
	// failures against (IPv6 addresses by their /64). Give the host's, which honours
	// its trusted proxies as the HTTP API does. Nil means the connection's peer
	// (Request.RemoteAddr).
	ClientAddr func(*http.Request) netip.Addr
	// CSRFKey is the secret the form tokens are made with: give the same one, of at
	// least 32 bytes, to every node behind one load balancer. Nil means a random key
	// made by New, so that forms shown before a restart must be sent again.
	CSRFKey []byte
	// FormTTL is how long a shown form can be sent. Zero or less means
	// DefaultFormTTL.
	FormTTL time.Duration
	// Timeout bounds each call to Invites and Registrar, within the request's own
	// context. Zero or less means DefaultTimeout.
	Timeout time.Duration
	// MaxBodyBytes bounds a POST /register body; a larger one gets 413.
	// Zero or less means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger receives a debug line per request (path and status, never the query),
	// an info line per web registration, and failures of Invites and Registrar; it
	// never receives a token or a password. Nil discards.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Shown, when not nil, learns of each invite page shown ("invite", on GET
	// /invite) and each registration form shown ("register", on GET /register), for
	// the funnel: no cookie or client identifier goes with it. It must be quick.
	Shown func(inv Invite, page string)
	// Decline, when not nil, revokes the invite of a token for the person it was
	// mailed to who says it is not for them: GET /invite?TOKEN&decline shows a page
	// with a button that POSTs it (mail scanners open links, so a GET changes
	// nothing). Nil means the page offers no such link (404).
	Decline func(ctx context.Context, token string) error
}

// defaultIcon is the pages' icon when the operator has no logo: a speech bubble, as
// a data: URL (the Content-Security-Policy allows data: images, and nothing else of
// data:), so that browsers ask for no /favicon.ico.
const defaultIcon = "data:image/svg+xml,%3Csvg%20xmlns=%22http://www.w3.org/2000/svg%22%20viewBox=%220%200%2032%2032%22%3E%3Crect%20width=%2232%22%20height=%2232%22%20rx=%227%22%20fill=%22%230b57a4%22/%3E%3Cpath%20d=%22M7%209h18a2%202%200%200%201%202%202v9a2%202%200%200%201-2%202h-9l-5%204v-4H7a2%202%200%200%201-2-2v-9a2%202%200%200%201%202-2z%22%20fill=%22%23fff%22/%3E%3C/svg%3E"

// pageNames are the page templates; each is parsed with layout.html.
var pageNames = [...]string{"invite.html", "register.html", "success.html", "error.html", "decline.html"} // read-only

//go:embed templates/*.html templates/style.css
var embeddedTemplates embed.FS // read-only

// Handler serves the invite page and web registration; build it with New.
// It is safe for concurrent use.
type Handler struct {
	invites   Invites
	registrar Registrar
	shown     func(Invite, string)
	decline   func(context.Context, string) error
	site      Site
	baseURL   string
	clients   []Client
	cat       *Catalog
	pages     map[string]*template.Template
	css       template.CSS
	csp       string // with %s for the nonce
	loginNote string
	password  *password.Policy
	subs      *submissions
	gzips     sync.Pool                   // of *gzip.Writer
	limit     *gcra.Limiter[netip.Prefix] // nil when off
	addr      func(*http.Request) netip.Addr
	csrfKey   []byte
	formTTL   time.Duration
	timeout   time.Duration
	maxBody   int64
	log       *slog.Logger
	now       func() time.Time
}

// New returns a Handler that looks invites up in invites and registers accounts with
// registrar. It fails on a template, message file or client list it cannot use.
func New(invites Invites, registrar Registrar, opts Options) (*Handler, error) {
	if invites == nil || registrar == nil {
		return nil, errors.New("page needs both Invites and Registrar")
	}
	h := &Handler{
		invites:   invites,
		registrar: registrar,
		shown:     opts.Shown,
		decline:   opts.Decline,
		site:      Site{Name: strings.TrimSpace(opts.SiteName), LogoURL: opts.LogoURL},
		baseURL:   strings.TrimRight(opts.BaseURL, "/"),
		clients:   opts.Clients,
		loginNote: opts.LoginNote,
		password:  opts.Password,
		addr:      opts.ClientAddr,
		csrfKey:   opts.CSRFKey,
		formTTL:   opts.FormTTL,
		timeout:   opts.Timeout,
		maxBody:   opts.MaxBodyBytes,
		log:       opts.Logger,
		now:       opts.Now,
	}
	if h.baseURL != "" && !webURL(h.baseURL) {
		return nil, fmt.Errorf("base URL %q is not an http or https URL", opts.BaseURL)
	}
	imgSrc := "'self'"
	if l := opts.LogoURL; l != "" {
		switch {
		case strings.HasPrefix(l, "/") && !strings.HasPrefix(l, "//"):
		case webURL(l):
			u, _ := url.Parse(l) // webURL parsed it
			imgSrc += " " + u.Scheme + "://" + u.Host
		default:
			return nil, fmt.Errorf("logo URL %q is neither an http or https URL nor an absolute path", l)
		}
	}
	h.csp = "default-src 'none'; style-src 'nonce-%s'; img-src " + imgSrc + " data:" +
		"; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
	if h.clients == nil {
		h.clients = DefaultClients()
	} else if err := CheckClients(h.clients); err != nil {
		return nil, err
	}
	cat, err := NewCatalog(opts.Languages, opts.Templates)
	if err != nil {
		return nil, err
	}
	h.cat = cat
	if err := h.parseTemplates(opts.Templates); err != nil {
		return nil, err
	}
	if h.password == nil {
		p, err := password.New(password.Config{})
		if err != nil {
			return nil, err
		}
		h.password = p
	}
	if n := opts.FailedAttempts; n >= 0 {
		if n == 0 {
			n = DefaultFailedAttempts
		}
		period := opts.FailedPeriod
		if period <= 0 {
			period = DefaultFailedPeriod
		}
		maxClients := opts.MaxClients
		if maxClients <= 0 {
			maxClients = DefaultMaxClients
		}
		h.limit = gcra.New[netip.Prefix](n, period, maxClients)
	}
	if h.addr == nil {
		h.addr = clientaddr.Resolver{}.Addr // the connection's peer
	}
	if h.csrfKey == nil {
		h.csrfKey = make([]byte, 32)
		rand.Read(h.csrfKey) // never fails (crypto/rand)
	} else if len(h.csrfKey) < 32 {
		return nil, errors.New("CSRF key shorter than 32 bytes")
	} else {
		h.csrfKey = bytes.Clone(h.csrfKey)
	}
	if h.formTTL <= 0 {
		h.formTTL = DefaultFormTTL
	}
	if h.timeout <= 0 {
		h.timeout = DefaultTimeout
	}
	h.subs = newSubmissions(maxSubmissions, h.formTTL)
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h, nil
}

// Catalog returns the handler's messages, for the words of other edges (such as the
// password policy's refusals in-band) to be the page's.
func (h *Handler) Catalog() *Catalog { return h.cat }

// parseTemplates parses each page with the layout, each file from over when it has it.
func (h *Handler) parseTemplates(over fs.FS) error {
	read := func(name string) (string, error) {
		if over != nil {
			b, err := fs.ReadFile(over, name)
			if err == nil {
				return string(b), nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("reading template %s: %w", name, err)
			}
		}
		b, err := fs.ReadFile(embeddedTemplates, "templates/"+name)
		if err != nil {
			return "", fmt.Errorf("reading template %s: %w", name, err)
		}
		return string(b), nil
	}
	css, err := read("style.css")
	if err != nil {
		return err
	}
	if strings.Contains(strings.ToLower(css), "</style") {
		return errors.New("style.css must not contain </style")
	}
	h.css = template.CSS(css)
	layout, err := read("layout.html")
	if err != nil {
		return err
	}
	h.pages = make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		src, err := read(name)
		if err != nil {
			return err
		}
		t, err := template.New("layout.html").Option("missingkey=error").Parse(layout)
		if err != nil {
			return fmt.Errorf("parsing template layout.html: %w", err)
		}
		if _, err := t.New(name).Parse(src); err != nil {
			return fmt.Errorf("parsing template %s: %w", name, err)
		}
		if t.Lookup("layout") == nil {
			return errors.New(`template layout.html must define "layout"`)
		}
		h.pages[name] = t
	}
	return nil
}

// ServeHTTP implements http.Handler: GET, HEAD and OPTIONS /invite?TOKEN; GET, HEAD
// and POST /register. Any other path is a 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	rw := httpstatus.NewWriter(w)
	switch r.URL.Path {
	case PathInvite:
		h.serveInvite(rw, r)
	case PathRegister:
		h.serveRegister(rw, r)
	default:
		h.renderError(rw, r, http.StatusNotFound, "error.notfound", h.cat.translator(langParam(r), r.Header.Get("Accept-Language")))
	}
	// The path only: the query holds the token.
	h.log.Debug("page request", "method", r.Method, "path", r.URL.Path, "status", rw.Status(), "duration", h.now().Sub(start))
}

// securityHeaders sets the headers of every page and returns the CSP nonce.
func (h *Handler) securityHeaders(w http.ResponseWriter) string {
	var b [18]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Content-Security-Policy", fmt.Sprintf(h.csp, nonce))
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("X-Robots-Tag", "noindex, nofollow")
	return nonce
}

// render writes page name with data at status: security headers, Content-Type,
// Content-Length, and no body for HEAD.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, d *Data) {
	d.Nonce = h.securityHeaders(w)
	d.CSS = h.css
	d.Site = h.site
	d.Icon = defaultIcon
	if h.site.LogoURL != "" {
		d.Icon = template.URL(h.site.LogoURL)
	}
	if d.Site.Name == "" && d.Invite != nil {
		d.Site.Name = d.Invite.Host
	}
	d.Status = status
	d.Lang = d.T.Lang()
	d.Languages = h.languageLinks(r, d.T.Lang())
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		h.log.Error("rendering page", "template", name, "err", err.Error())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, d.T.Get("error.internal.body"))
		return
	}
	body := buf.Bytes()
	// No page with a form token is compressed (BREACH: it also echoes what was typed);
	// the others carry no secret the request did not bring. Nor the 429 page, which a
	// flood gets (doc.go, Compression).
	if d.Form == nil && status != http.StatusTooManyRequests && len(body) >= minCompress &&
		acceptsGzip(r.Header.Get("Accept-Encoding")) {
		if z, err := h.compress(body); err == nil {
			body = z
			w.Header().Set("Content-Encoding", "gzip")
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", d.T.Lang())
	w.Header().Set("Vary", "Accept-Language, User-Agent, Accept-Encoding")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body) // a failed write is the client's loss
	}
}

// minCompress is the smallest page worth compressing, in bytes.
const minCompress = 1024

// compress gzips a page with a writer of the handler's pool, at the fastest level:
// it still shrinks the invite page about 3 times (17 kB to 5.5 kB), for a sixth of
// the CPU the default level takes.
func (h *Handler) compress(body []byte) ([]byte, error) {
	zw, _ := h.gzips.Get().(*gzip.Writer)
	var out bytes.Buffer
	out.Grow(len(body) / 3)
	if zw == nil {
		zw, _ = gzip.NewWriterLevel(&out, gzip.BestSpeed) // a valid level: no error
	} else {
		zw.Reset(&out)
	}
	defer h.gzips.Put(zw)
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// acceptsGzip reports whether an Accept-Encoding header takes gzip (RFC 9110,
// section 12.5.3): listed, or covered by "*", with a weight above zero.
func acceptsGzip(header string) bool {
	gzipQ, starQ := -1.0, -1.0
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		q := 1.0
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		switch name = strings.TrimSpace(name); {
		case strings.EqualFold(name, "gzip"), strings.EqualFold(name, "x-gzip"):
			gzipQ = q
		case name == "*":
			starQ = q
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}

// renderError writes the short error page whose texts are key+".heading" and
// key+".body", with a Retry-After for 429 and 503 when set beforehand.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, status int, key string, t Translator, args ...any) {
	h.render(w, r, status, "error.html", &Data{
		T:     t,
		Error: &ErrorView{Heading: t.Get(key + ".heading"), Body: t.Get(key+".body", args...)},
	})
}

// languageLinks lists the offered languages, each linking to this page in it.
func (h *Handler) languageLinks(r *http.Request, current string) []LanguageLink {
	if len(h.cat.langs) < 2 || r.Method == http.MethodPost {
		return nil
	}
	links := make([]LanguageLink, 0, len(h.cat.langs))
	for _, l := range h.cat.langs {
		links = append(links, LanguageLink{
			Lang:    l,
			Name:    h.cat.of(l).Get("lang.name"),
			URL:     withParam(r, "lang", l),
			Current: l == current,
		})
	}
	return links
}

// withParam returns the request's path and query (relative to this directory) with
// the parameter name set to value, keeping a leading bare token (/invite?TOKEN).
func withParam(r *http.Request, name, value string) string {
	base := strings.TrimPrefix(r.URL.Path, "/")
	first, rest := splitBare(r.URL.RawQuery)
	q, _ := url.ParseQuery(rest) // malformed parts dropped
	q.Set(name, value)
	s := q.Encode()
	if first != "" {
		s = first + "&" + s
	}
	return base + "?" + s
}

// splitBare splits a raw query into its leading bare token (a first part without
// "="), if any, and the rest.
func splitBare(raw string) (bare, rest string) {
	first, rest, _ := strings.Cut(raw, "&")
	if strings.Contains(first, "=") {
		return "", raw
	}
	return first, rest
}

// langParam returns the lang query parameter, the visitor's explicit choice.
func langParam(r *http.Request) string {
	_, rest := splitBare(r.URL.RawQuery)
	q, _ := url.ParseQuery(rest)
	return q.Get("lang")
}

// clientKey returns the limiter's budget of a request.
func (h *Handler) clientKey(r *http.Request) netip.Prefix { return clientaddr.Key(h.addr(r)) }

// limited answers 429 and reports true when the request's address has spent its
// failed-attempt budget.
func (h *Handler) limited(w http.ResponseWriter, r *http.Request, t Translator) bool {
	if h.limit == nil {
		return false
	}
	wait := h.limit.Wait(h.clientKey(r), h.now())
	if wait <= 0 {
		return false
	}
	secs := int64((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	h.renderError(w, r, http.StatusTooManyRequests, "error.limited", t, t.relative(wait))
	return true
}

// failed takes one attempt from the request's address's budget.
func (h *Handler) failed(r *http.Request) {
	if h.limit != nil {
		h.limit.Spend(h.clientKey(r), h.now())
	}
}

// redact removes the secrets of a request from text bound for the log.
func redact(s string, secrets ...string) string {
	for _, x := range secrets {
		if x != "" {
			s = strings.ReplaceAll(s, x, "[redacted]")
		}
	}
	return s
}

var _ http.Handler = (*Handler)(nil)

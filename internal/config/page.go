package config

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/page"
)

// Page configures the built-in invite page and web registration (package
// internal/page), which serve every host whose landing_page is "builtin". It is the
// [page] table; each key is optional. File names that are not absolute are read from
// the directory of the config file (the working directory for inline config).
type Page struct {
	// SiteName is the service's name in every page's header and title, such as
	// "Example Chat". Default: the invite's host. At most 100 characters, one line.
	SiteName string `toml:"site_name"`
	// LogoURL is a logo shown beside the site name: an https: or http: URL (the pages'
	// Content-Security-Policy allows images from its origin) or an absolute path on
	// the XMPP server's HTTP server, such as "/logo.svg". Default none.
	LogoURL string `toml:"logo_url"`
	// ClientsFile is a JSON file replacing the built-in client list (the format of
	// internal/page/clients.json: an array of {name, website, platforms,
	// takes_invites, links: [{label, url, platforms}]}). Unknown fields, unknown
	// platforms and links that are not http(s) are start-up errors. Default: the
	// built-in list.
	ClientsFile string `toml:"clients_file"`
	// Languages are the BCP 47 tags the pages are offered in, chosen by
	// Accept-Language; the first is the default. English, German and French ship
	// ("en", "de", "fr"); another needs lang/TAG.json in TemplatesDir.
	// Default ["en", "de", "fr"].
	Languages []string `toml:"languages"`
	// TemplatesDir is a directory whose files replace the built-in templates of the
	// same name: layout.html, invite.html, register.html, success.html, error.html,
	// style.css and lang/TAG.json (merged key by key over the built-in messages).
	// Default none: the built-in templates.
	TemplatesDir string `toml:"templates_dir"`
	// CSRFKeyFile is a file holding the secret the registration forms are signed
	// with: at least 32 bytes (surrounding white space is ignored), such as the
	// output of "openssl rand -base64 48". Give every node behind one load balancer
	// the same file, so that a form shown by one node can be sent to another.
	// Default: a random key per plugin process (forms shown before a restart must be
	// sent again).
	CSRFKeyFile string `toml:"csrf_key_file"`
	// LoginNote is plain text the success page shows under "how to sign in", such as
	// the server and port to enter in clients that ask, or a note on the
	// certificate. At most 1000 characters. Default none.
	LoginNote string `toml:"login_note"`
	// MinPasswordLength is the shortest password web registration takes, in
	// characters (the XMPP server may refuse more). Default 8, at most 1024.
	MinPasswordLength int `toml:"min_password_length"`
	// FailedAttemptRate is how many failed attempts (unknown or dead tokens, refused
	// forms) one client address may make, as N/PERIOD, before its page requests get
	// 429; IPv6 addresses count by /64, and behind http.trusted_proxies the forwarded
	// address counts. "off" turns the limit off. Default "10/10m".
	FailedAttemptRate string `toml:"failed_attempt_rate"`
}

// Defaults and bounds of Page.
const (
	DefaultPageFailedAttemptRate = "10/10m"
	maxSiteNameLen               = 100
	maxLoginNoteLen              = 1000
	maxMinPasswordLength         = 1024
	minCSRFKeyLen                = 32
	maxPageFileBytes             = 1 << 20
)

// normalize fills the defaults of the page settings.
func (p *Page) normalize() {
	if p.FailedAttemptRate == "" {
		p.FailedAttemptRate = DefaultPageFailedAttemptRate
	}
}

// validate checks the page settings that need no file; errors name their key.
func (p *Page) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("page."+key+": "+format, args...))
	}
	if n := utf8.RuneCountInString(p.SiteName); n > maxSiteNameLen || !plainText(p.SiteName, false) {
		bad("site_name", "must be one line of at most %d characters without control characters", maxSiteNameLen)
	}
	if l := p.LogoURL; l != "" {
		u, err := url.Parse(l)
		switch {
		case err == nil && strings.HasPrefix(l, "/") && !strings.HasPrefix(l, "//"):
		case err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "":
		default:
			bad("logo_url", "%q is neither an http or https URL nor an absolute path such as /logo.svg", l)
		}
	}
	seen := map[string]bool{}
	for _, l := range p.Languages {
		tag, err := language.Parse(l)
		if err != nil || tag.String() != l {
			bad("languages", "%q is not a BCP 47 language tag in its canonical form (such as \"en\", \"de\" or \"pt-BR\")", l)
			continue
		}
		if seen[l] {
			bad("languages", "%q is listed twice", l)
		}
		seen[l] = true
	}
	if p.Languages != nil && len(p.Languages) == 0 {
		bad("languages", "list at least one language, or leave the key out for English, German and French")
	}
	if n := utf8.RuneCountInString(p.LoginNote); n > maxLoginNoteLen || !plainText(p.LoginNote, true) {
		bad("login_note", "must be at most %d characters without control characters other than line breaks", maxLoginNoteLen)
	}
	if p.MinPasswordLength < 0 || p.MinPasswordLength > maxMinPasswordLength {
		bad("min_password_length", "must be between 1 and %d", maxMinPasswordLength)
	}
	if p.FailedAttemptRate != "off" {
		if _, err := core.ParseRate(p.FailedAttemptRate); err != nil {
			bad("failed_attempt_rate", "%w (or \"off\")", err)
		}
	}
	for _, f := range []struct{ key, path string }{
		{"clients_file", p.ClientsFile}, {"templates_dir", p.TemplatesDir}, {"csrf_key_file", p.CSRFKeyFile},
	} {
		if strings.ContainsRune(f.path, 0) {
			bad(f.key, "is not a file name")
		}
	}
	return errs
}

// plainText reports whether s has no control or bidirectional formatting characters
// (line breaks allowed when multiline).
func plainText(s string, multiline bool) bool {
	for _, r := range s {
		switch {
		case multiline && (r == '\n' || r == '\r'):
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r):
			return false
		}
	}
	return true
}

// Options reads the page's files (names that are not absolute from dir) and returns
// the page's options as the config decides them; the caller adds what the host
// decides (BaseURL, ClientAddr) and the Logger. Errors name the key and the file.
func (p Page) Options(dir string) (page.Options, error) {
	opts := page.Options{
		SiteName:          p.SiteName,
		LogoURL:           p.LogoURL,
		Languages:         slices.Clone(p.Languages),
		LoginNote:         p.LoginNote,
		MinPasswordLength: p.MinPasswordLength,
	}
	path := func(name string) string {
		if name == "" || filepath.IsAbs(name) {
			return name
		}
		return filepath.Join(dir, name)
	}
	switch rate := p.FailedAttemptRate; rate {
	case "off":
		opts.FailedAttempts = -1
	case "":
	default:
		r, err := core.ParseRate(rate)
		if err != nil {
			return page.Options{}, fmt.Errorf("page.failed_attempt_rate: %w", err)
		}
		opts.FailedAttempts, opts.FailedPeriod = r.N, r.Period
	}
	if p.ClientsFile != "" {
		name := path(p.ClientsFile)
		b, err := readSmallFile(name)
		if err != nil {
			return page.Options{}, fmt.Errorf("page.clients_file: %w", err)
		}
		cs, err := page.ReadClients(bytes.NewReader(b))
		if err != nil {
			return page.Options{}, fmt.Errorf("page.clients_file %s: %w", name, err)
		}
		opts.Clients = cs
		if opts.Clients == nil {
			opts.Clients = []page.Client{} // an empty list shows none, not the built-in one
		}
	}
	if p.TemplatesDir != "" {
		name := path(p.TemplatesDir)
		fi, err := os.Stat(name)
		if err != nil {
			return page.Options{}, fmt.Errorf("page.templates_dir: %w", err)
		}
		if !fi.IsDir() {
			return page.Options{}, fmt.Errorf("page.templates_dir: %s is not a directory", name)
		}
		opts.Templates = os.DirFS(name)
	}
	if p.CSRFKeyFile != "" {
		name := path(p.CSRFKeyFile)
		b, err := readSmallFile(name)
		if err != nil {
			return page.Options{}, fmt.Errorf("page.csrf_key_file: %w", err)
		}
		key := bytes.TrimSpace(b)
		if len(key) < minCSRFKeyLen {
			return page.Options{}, fmt.Errorf("page.csrf_key_file %s: the key has %d bytes, it needs at least %d (make one with: openssl rand -base64 48 > %s)",
				name, len(key), minCSRFKeyLen, name)
		}
		opts.CSRFKey = key
	}
	return opts, nil
}

// readSmallFile reads a file of at most maxPageFileBytes.
func readSmallFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	if fi.Size() > maxPageFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxPageFileBytes)
	}
	b := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return b, nil
}

// PageHosts returns the served hosts (of CoreHosts) whose landing page is the built-in
// one.
func PageHosts(hosts []core.HostConfig) []string {
	var out []string
	for _, h := range hosts {
		if h.LandingPage == core.LandingBuiltin {
			out = append(out, h.Domain)
		}
	}
	return out
}

// Configured reports whether any key of the [page] table was set.
func (p Page) Configured() bool {
	return p.SiteName != "" || p.LogoURL != "" || p.ClientsFile != "" || p.Languages != nil ||
		p.TemplatesDir != "" || p.CSRFKeyFile != "" || p.LoginNote != "" || p.MinPasswordLength != 0 ||
		p.FailedAttemptRate != "" && p.FailedAttemptRate != DefaultPageFailedAttemptRate
}

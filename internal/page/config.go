package page

import (
	"bytes"
	"errors"
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
	"github.com/xmpp-invites/invites/internal/password"
)

// Config is the [page] table of the plugin's config: the settings of the built-in
// invite page and web registration, which serve every host whose landing_page is
// "builtin". Each key is optional; the zero value of each field means its documented
// default, filled by Normalize. File names that are not absolute are read from the
// directory given to Options (the config file's).
type Config struct {
	// SiteName is the service's name in every page's header and title, such as
	// "Example Chat". Default: the invite's host. At most 100 characters, one line.
	SiteName string `toml:"site_name"`
	// LogoURL is a logo shown beside the site name (and the pages' icon): an https: or
	// http: URL (the pages' Content-Security-Policy allows images from its origin) or
	// an absolute path on the XMPP server's HTTP server, such as "/logo.svg".
	// Default none: the built-in icon.
	LogoURL string `toml:"logo_url"`
	// ClientsFile is a JSON file replacing the built-in client list (the format of
	// clients.json: an array of {name, website, platforms, takes_invites, links:
	// [{label, url, platforms}]}). Unknown fields, unknown platforms and links that are
	// not http(s) are start-up errors. Default: the built-in list.
	ClientsFile string `toml:"clients_file"`
	// Languages are the BCP 47 tags the pages are offered in, chosen by the lang
	// parameter or Accept-Language (a regional variant such as de-CH gets de); the
	// first is the default. English, German and French ship ("en", "de", "fr");
	// another needs lang/TAG.json in TemplatesDir.
	// Default: the three that ship, English first.
	Languages []string `toml:"languages"`
	// TemplatesDir is a directory whose files replace the built-in templates of the
	// same name: layout.html, invite.html, register.html, success.html, error.html,
	// decline.html, style.css and lang/TAG.json (merged key by key over the built-in messages).
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
	// MinPasswordLength is deprecated: set min_length in the [password] table, which
	// every registration path follows. When set (1 to 1024), it is taken as
	// password.min_length; setting both to different values is an error.
	// Default: unset.
	MinPasswordLength int `toml:"min_password_length"`
	// FailedAttemptRate is how many failed attempts (unknown or dead tokens, refused
	// forms) one client address may make, as N/PERIOD, before its page requests get
	// 429; IPv6 addresses count by /64, and behind http.trusted_proxies the forwarded
	// address counts. "off" turns the limit off.
	// Default: [DefaultFailedAttempts] per [DefaultFailedPeriod].
	FailedAttemptRate string `toml:"failed_attempt_rate"`
}

// Bounds of Config.
const (
	maxSiteNameLen   = 100
	maxLoginNoteLen  = 1000
	minCSRFKeyLen    = 32
	maxPageFileBytes = 1 << 20
)

// Normalize checks the settings that need no file; each error names its key (without
// the table's name) and what the key accepts. Every default is the Handler's (a zero
// Options field), so that each is written once; Normalize fills none.
func (c *Config) Normalize() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf(key+": "+format, args...))
	}
	if n := utf8.RuneCountInString(c.SiteName); n > maxSiteNameLen || !plainText(c.SiteName, false) {
		bad("site_name", "must be one line of at most %d characters without control characters", maxSiteNameLen)
	}
	if l := c.LogoURL; l != "" && !logoURL(l) {
		bad("logo_url", "%q is neither an http or https URL nor an absolute path such as /logo.svg", l)
	}
	seen := map[string]bool{}
	for _, l := range c.Languages {
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
	if c.Languages != nil && len(c.Languages) == 0 {
		bad("languages", "list at least one language, or leave the key out for English, German and French")
	}
	if n := utf8.RuneCountInString(c.LoginNote); n > maxLoginNoteLen || !plainText(c.LoginNote, true) {
		bad("login_note", "must be at most %d characters without control characters other than line breaks", maxLoginNoteLen)
	}
	if c.MinPasswordLength < 0 || c.MinPasswordLength > password.MaxLength {
		bad("min_password_length", "must be between 1 and %d (deprecated: set min_length in [password])", password.MaxLength)
	}
	if c.FailedAttemptRate != "off" && c.FailedAttemptRate != "" {
		if _, err := core.ParseRate(c.FailedAttemptRate); err != nil {
			bad("failed_attempt_rate", "%w (or \"off\")", err)
		}
	}
	for _, f := range []struct{ key, path string }{
		{"clients_file", c.ClientsFile}, {"templates_dir", c.TemplatesDir}, {"csrf_key_file", c.CSRFKeyFile},
	} {
		if strings.ContainsRune(f.path, 0) {
			bad(f.key, "is not a file name")
		}
	}
	return errors.Join(errs...)
}

// ApplyDeprecated carries the deprecated min_password_length over to the password
// policy pw when pw does not set min_length; the same value in both is fine, two
// different values are an error.
func (c Config) ApplyDeprecated(pw *password.Config) error {
	switch n := c.MinPasswordLength; {
	case n == 0 || n == pw.MinLength:
	case pw.MinLength == 0:
		pw.MinLength = n
	default:
		return fmt.Errorf("min_password_length (%d) is deprecated and disagrees with password.min_length (%d): remove it", n, pw.MinLength)
	}
	return nil
}

// logoURL reports whether l is an http(s) URL with a host, or an absolute path.
func logoURL(l string) bool {
	if strings.HasPrefix(l, "/") && !strings.HasPrefix(l, "//") {
		_, err := url.Parse(l)
		return err == nil
	}
	return webURL(l)
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
// the Handler's options as the config decides them; the caller adds what the host
// decides (BaseURL, ClientAddr), the password policy and the Logger. Errors name the
// key and the file. c must have been normalized.
func (c Config) Options(dir string) (Options, error) {
	opts := Options{
		SiteName:  c.SiteName,
		LogoURL:   c.LogoURL,
		Languages: slices.Clone(c.Languages),
		LoginNote: c.LoginNote,
	}
	path := func(name string) string {
		if name == "" || filepath.IsAbs(name) {
			return name
		}
		return filepath.Join(dir, name)
	}
	switch rate := c.FailedAttemptRate; rate {
	case "off":
		opts.FailedAttempts = -1
	case "":
	default:
		r, err := core.ParseRate(rate)
		if err != nil {
			return Options{}, fmt.Errorf("failed_attempt_rate: %w", err)
		}
		opts.FailedAttempts, opts.FailedPeriod = r.N, r.Period
	}
	if c.ClientsFile != "" {
		name := path(c.ClientsFile)
		b, err := readSmallFile(name)
		if err != nil {
			return Options{}, fmt.Errorf("clients_file: %w", err)
		}
		cs, err := ReadClients(bytes.NewReader(b))
		if err != nil {
			return Options{}, fmt.Errorf("clients_file %s: %w", name, err)
		}
		opts.Clients = cs
		if opts.Clients == nil {
			opts.Clients = []Client{} // an empty list shows none, not the built-in one
		}
	}
	if c.TemplatesDir != "" {
		name := path(c.TemplatesDir)
		fi, err := os.Stat(name)
		if err != nil {
			return Options{}, fmt.Errorf("templates_dir: %w", err)
		}
		if !fi.IsDir() {
			return Options{}, fmt.Errorf("templates_dir: %s is not a directory", name)
		}
		opts.Templates = os.DirFS(name)
	}
	if c.CSRFKeyFile != "" {
		name := path(c.CSRFKeyFile)
		b, err := readSmallFile(name)
		if err != nil {
			return Options{}, fmt.Errorf("csrf_key_file: %w", err)
		}
		key := bytes.TrimSpace(b)
		if len(key) < minCSRFKeyLen {
			return Options{}, fmt.Errorf("csrf_key_file %s: the key has %d bytes, it needs at least %d (make one with: openssl rand -base64 48 > %s)",
				name, len(key), minCSRFKeyLen, name)
		}
		opts.CSRFKey = key
	}
	return opts, nil
}

// readSmallFile reads a regular file of at most maxPageFileBytes.
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

// Configured reports whether any key of the table was set.
func (c Config) Configured() bool {
	return c.SiteName != "" || c.LogoURL != "" || c.ClientsFile != "" || c.Languages != nil ||
		c.TemplatesDir != "" || c.CSRFKeyFile != "" || c.LoginNote != "" || c.MinPasswordLength != 0 ||
		c.FailedAttemptRate != ""
}

package mail

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// The security of the connection to the relay.
const (
	// SecurityStartTLS connects in clear and upgrades with STARTTLS, which the relay
	// must offer (submission, port 587).
	SecurityStartTLS = "starttls"
	// SecurityTLS connects with TLS from the start (submissions, port 465).
	SecurityTLS = "tls"
	// SecurityNone never encrypts: only for a relay on the same machine or network.
	SecurityNone = "none"
)

// Defaults and bounds of Config.
const (
	// DefaultTimeout bounds one delivery: the connection, the dialogue and the message.
	DefaultTimeout = 30 * time.Second
	// minTimeout and maxTimeout bound Config.Timeout.
	minTimeout = time.Second
	maxTimeout = 5 * time.Minute
)

// Config is the [smtp] table of the plugin's config: the relay invites are mailed
// through. Without it (no host) no invite can be sent by email.
// The zero value of each optional field means its documented default, filled by
// Normalize.
type Config struct {
	// Host is the relay's host name or address, such as "smtp.example.org".
	// Default none: the plugin sends no email.
	Host string `toml:"host"`
	// Port is the relay's port. Default: 587 for security "starttls", 465 for "tls", 25
	// for "none".
	Port int `toml:"port"`
	// Security is how the connection is protected: "starttls" (the relay must offer
	// STARTTLS), "tls" (TLS from the start) or "none" (never encrypted: a relay on the
	// same machine). Default: "starttls" (once a host is given).
	Security string `toml:"security"`
	// Username, when set, authenticates to the relay (SMTP AUTH, the strongest
	// mechanism the relay offers); never over an unencrypted connection to another
	// machine. Default none: no authentication.
	Username string `toml:"username"`
	// Password is the password of Username. Prefer PasswordFile, which keeps it out of
	// the config. Default none.
	Password string `toml:"password"`
	// PasswordFile is a file holding the password of Username (its first line), read
	// at start; relative to the config file's directory. At most one of Password and
	// PasswordFile. Default none.
	PasswordFile string `toml:"password_file"`
	// From is the sender of the mails: an address, with a name or not, such as
	// "Example Chat <invites@example.org>", required with a host. Default none.
	From string `toml:"from"`
	// Timeout bounds one delivery. Default: 30 seconds (once a host is given); from 1
	// second to 5 minutes.
	Timeout core.Duration `toml:"timeout"`
	// CAFile is a PEM file of the certificate authorities that vouch for the relay's
	// certificate, relative to the config file's directory. Default: the system's.
	CAFile string `toml:"ca_file"`
}

// Enabled reports whether a relay is configured.
func (c Config) Enabled() bool { return c.Host != "" }

// Normalize fills the defaults of c and checks it; each error names its key. Without
// a host, every other key must be left out too.
func (c *Config) Normalize() error {
	if !c.Enabled() {
		if *c != (Config{}) {
			return errors.New("host is required to send email (or leave out the [smtp] table)")
		}
		return nil
	}
	if c.Security == "" {
		c.Security = SecurityStartTLS
	}
	if c.Port == 0 {
		switch c.Security {
		case SecurityTLS:
			c.Port = 465
		case SecurityNone:
			c.Port = 25
		default:
			c.Port = 587
		}
	}
	if c.Timeout == 0 {
		c.Timeout = core.Duration(DefaultTimeout)
	}
	var errs []error
	if strings.ContainsAny(c.Host, " /:@") {
		errs = append(errs, fmt.Errorf("host %q is not a host name or address", c.Host))
	}
	switch c.Security {
	case SecurityStartTLS, SecurityTLS, SecurityNone:
	default:
		errs = append(errs, fmt.Errorf("security %q is not known: use starttls, tls or none", c.Security))
	}
	if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, errors.New("port must be between 1 and 65535"))
	}
	if c.Password != "" && c.PasswordFile != "" {
		errs = append(errs, errors.New("give password or password_file, not both"))
	}
	if c.Username == "" && (c.Password != "" || c.PasswordFile != "") {
		errs = append(errs, errors.New("a password needs a username"))
	}
	if a, err := mail.ParseAddress(c.From); err != nil || a.Address == "" {
		errs = append(errs, fmt.Errorf("from %q is not an address such as \"Example Chat <invites@example.org>\"", c.From))
	}
	if c.Timeout < core.Duration(minTimeout) || c.Timeout > core.Duration(maxTimeout) {
		errs = append(errs, fmt.Errorf("timeout must be between %s and %s", core.HumanDuration(minTimeout), core.HumanDuration(maxTimeout)))
	}
	return errors.Join(errs...)
}

// password returns the password: Password, or the first line of PasswordFile read
// from dir (the config file's directory) when it is relative.
func (c Config) password(dir string) (string, error) {
	if c.PasswordFile == "" {
		return c.Password, nil
	}
	b, err := os.ReadFile(resolve(dir, c.PasswordFile))
	if err != nil {
		return "", fmt.Errorf("password_file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimRight(line, "\r"); line == "" {
		return "", fmt.Errorf("password_file %s is empty", c.PasswordFile)
	}
	return line, nil
}

// tlsConfig returns the TLS settings of the relay's connection, with the certificate
// authorities of CAFile when set.
func (c Config) tlsConfig(dir string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12}
	if c.CAFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(resolve(dir, c.CAFile))
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_file %s holds no PEM certificate", c.CAFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// resolve returns path, relative to dir when it is not absolute.
func resolve(dir, path string) string {
	if filepath.IsAbs(path) || dir == "" {
		return path
	}
	return filepath.Join(dir, path)
}

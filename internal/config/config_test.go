package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/doctest"
	"github.com/xmpp-invites/invites/internal/password"
)

func TestParse(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	for i, tc := range [...]struct {
		text    string
		wantErr string
		check   func(t *testing.T, c config.Config)
	}{
		0: {text: "", check: func(t *testing.T, c config.Config) {
			if c.DataDir != "./data" || time.Duration(c.DefaultTTL) != 7*24*time.Hour {
				t.Errorf("defaults not filled: %+v", c)
			}
			if got := c.Address(); got != filepath.Join("./data", "invites.db") {
				t.Errorf("store = %q", got)
			}
			if h := c.HostConfigs(); len(h) != 1 || h[0].Domain != "localhost" {
				t.Errorf("hosts = %+v", h)
			}
		}},
		1: {text: "data_dir = \"/x\"\ndefault_ttl = \"2d\"\nmax_ttl = \"3600\"\n", wantErr: "default_ttl (2 days) is longer than max_ttl (1 hour)"},
		2: {text: "stor = \"x\"", wantErr: "unknown keys: stor"},
		3: {text: "default_ttl = \"soon\"", wantErr: "\"soon\" is not a duration: write seconds (3600), hours or minutes (48h, 90m) or days and weeks (7d, 2w)"},
		4: {text: "[[host]]\ndomain = \"a@b\"", wantErr: "not a valid XMPP domain"},
		5: {text: "[[host]]\ndomain = \"Example.COM\"\n[[host]]\ndomain = \"example.com\"", wantErr: "listed twice"},
		6: {text: "[http]\nfailed_auth_rate = \"lots\"", wantErr: "failed_auth_rate"},
		7: {text: "landing_page = \"https://{host}/i?{token}\"\n[[host]]\ndomain = \"a.example\"\nmax_ttl = \"1d\"\ndefault_ttl = \"1h\"",
			check: func(t *testing.T, c config.Config) {
				hs := c.HostConfigs("b.example", "a.example")
				if len(hs) != 2 {
					t.Fatalf("hosts = %+v", hs)
				}
				if hs[0].MaxTTL != 24*time.Hour || hs[0].DefaultTTL != time.Hour || hs[0].LandingPage == "" {
					t.Errorf("a.example = %+v", hs[0])
				}
				if hs[1].Domain != "b.example" || hs[1].DefaultTTL != 7*24*time.Hour {
					t.Errorf("b.example = %+v", hs[1])
				}
			}},
		8:  {text: "[commands]\nmax_sessions = -1", wantErr: "max_sessions"},
		9:  {text: "[http]\ntrusted_proxies = [\"proxy.example\"]", wantErr: "trusted_proxies"},
		11: {text: "landing_page = \"https://example.com/invite?{tokn}\"", wantErr: "unknown placeholder {tokn}"},
		12: {text: "[[host]]\ndomain = \"a.example\"\nlanding_page = \"https://a.example/{host}\"", wantErr: "names neither {token} nor {uri}"},
		13: {text: "landing_page = \"builtin\"", check: func(t *testing.T, c config.Config) {
			if h := c.HostConfigs(); h[0].LandingPage != "builtin" {
				t.Errorf("hosts = %+v", h)
			}
		}},
		14: {text: "landing_page = \"ftp://example.com/{token}\"", wantErr: "not an http or https URL"},
		15: {text: "store = \"postgress://db/invites\"", wantErr: "unknown scheme \"postgress\""},
		16: {text: "store = \"host=db.internal dbname=invites\"", check: func(t *testing.T, c config.Config) {}},
		17: {text: "durability = \"fast\"", wantErr: "use \"crash\" or \"power-loss\""},
		18: {text: "durability = \"crash\"\nretention = \"7d\"", check: func(t *testing.T, c config.Config) {
			if c.Durability != "crash" || time.Duration(c.Retention) != 7*24*time.Hour {
				t.Errorf("durability %q, retention %v", c.Durability, c.Retention)
			}
		}},
		19: {text: "", check: func(t *testing.T, c config.Config) {
			if c.Durability != "power-loss" || time.Duration(c.Retention) != 30*24*time.Hour {
				t.Errorf("defaults: durability %q, retention %v", c.Durability, c.Retention)
			}
		}},
		20: {text: "default_ttl = 1", wantErr: "at least 1 minute"},
		21: {text: "max_ttl = \"1ns\"", wantErr: "at least 1 minute"},
		22: {text: "[[host]]\ndomain = \"a.example\"\ndefault_ttl = \"30s\"", wantErr: "host a.example: default_ttl and max_ttl must be at least 1 minute"},
		23: {text: "", check: func(t *testing.T, c config.Config) {
			q := c.UserQuota.Quota()
			if c.AllowUserInvites || q.Invites != 10 || q.Period != 7*24*time.Hour || q.Outstanding != 5 {
				t.Errorf("user invites: allowed %v, quota %+v; want off, 10 a week, 5 outstanding", c.AllowUserInvites, q)
			}
		}},
		24: {text: "allow_user_invites = true\n[user_quota]\ninvites = -1\nperiod = \"1d\"\noutstanding = 2", check: func(t *testing.T, c config.Config) {
			q := c.UserQuota.Quota()
			if !c.AllowUserInvites || q.Invites != 0 || q.Period != 24*time.Hour || q.Outstanding != 2 {
				t.Errorf("user invites: allowed %v, quota %+v", c.AllowUserInvites, q)
			}
		}},
		25: {text: "[user_quota]\ninvites = -2", wantErr: "-1 for no bound"},
		26: {text: "[user_quota]\nperiod = \"10s\"", wantErr: "user_quota.period must be at least 1 minute"},
		// A mistyped sqlite: is refused, naming the accepted forms (issue 22).
		27: {text: "store = \"sqlit:/x.db\"", wantErr: "store: the store address has the unknown scheme \"sqlit\": use a file path"},
		10: {text: "[http]\ntrusted_proxies = [\"127.0.0.1\", \"10.1.2.3/8\", \"::1\"]", check: func(t *testing.T, c config.Config) {
			got := fmt.Sprint(c.HTTP.Proxies())
			if got != "[127.0.0.1/32 10.0.0.0/8 ::1/128]" {
				t.Errorf("proxies = %s", got)
			}
		}},
	} {
		c, err := config.Parse(tc.text)
		if err == nil {
			err = c.Normalize()
		}
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%d: err = %v, want %q", i, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		tc.check(t, c)
	}
}

// TestComponentTables: config only decodes [page] and [password] into their
// packages' types, which fill their defaults; each error is prefixed with its table,
// and the deprecated page.min_password_length reaches the password policy.
func TestComponentTables(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	for i, tc := range [...]struct {
		text    string
		want    password.Config
		wantErr []string
	}{
		0: {text: "", want: password.Config{MinLength: 8, MinDistinct: 5}},
		1: {text: "[password]\nmin_length = 12\nmin_distinct = 6\nallow_username = true\nallow_common = true",
			want: password.Config{MinLength: 12, MinDistinct: 6, AllowUsername: true, AllowCommon: true}},
		2: {text: "[page]\nmin_password_length = 10", want: password.Config{MinLength: 10, MinDistinct: 5}},
		3: {text: "[page]\nmin_password_length = 10\n[password]\nmin_length = 12", wantErr: []string{"page.min_password_length (10) is deprecated"}},
		4: {text: "[password]\nmin_length = 2000\nmin_distinct = -1", wantErr: []string{"password.min_length: 2000", "password.min_distinct: -1"}},
		5: {text: "[page]\nsite_name = \"a\\u0007b\"\nlogo_url = \"ftp://x\"", wantErr: []string{"page.site_name: ", "page.logo_url: "}},
		6: {text: "[password]\nmin_lenght = 9", wantErr: []string{"unknown keys: password.min_lenght"}},
	} {
		c, err := config.Parse(tc.text)
		if err == nil {
			err = c.Normalize()
		}
		if tc.wantErr == nil {
			if err != nil || c.Password != tc.want {
				t.Errorf("%d: password %+v, %v; want %+v", i, c.Password, err, tc.want)
			}
			continue
		}
		for _, w := range tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%d: err = %v, want %q", i, err, w)
			}
		}
	}
}

func TestEnvStoreWins(t *testing.T) {
	t.Setenv(config.EnvStore, "postgres://db/x")
	c, err := config.Parse(`store = "/tmp/x.db"`)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	if c.Address() != "postgres://db/x" {
		t.Errorf("store = %q", c.Address())
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := config.Load(filepath.Join(t.TempDir(), "nope.toml")); err == nil {
		t.Fatal("want error for a missing file")
	}
}

func TestKnownDomains(t *testing.T) {
	dir := t.TempDir()
	if got, err := config.KnownDomains(dir); err != nil || len(got) != 0 {
		t.Fatalf("empty dir: %v %v", got, err)
	}
	if err := config.RecordDomains(dir, []string{"Example.org", "localhost"}); err != nil {
		t.Fatal(err)
	}
	if err := config.RecordDomains(dir, []string{"example.org", "b.example"}); err != nil {
		t.Fatal(err)
	}
	got, err := config.KnownDomains(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "example.org,localhost,b.example" {
		t.Errorf("domains = %v", got)
	}
	if err := config.RecordDomains(dir, []string{"bad domain"}); err == nil {
		t.Error("want error for a malformed domain")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// TestDefaults: the defaults are those of an empty file, valid, with INVITES_STORE
// left out.
func TestDefaults(t *testing.T) {
	t.Setenv(config.EnvStore, "postgres://db/x")
	d := config.Defaults()
	if d.Address() != filepath.Join("./data", "invites.db") || d.Commands.MaxSessions != 8 {
		t.Errorf("defaults: %+v", d)
	}
	if err := d.Normalize(); err != nil {
		t.Fatal(err)
	}
	t.Setenv(config.EnvStore, "")
	c, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", config.Defaults()) {
		t.Errorf("Load(\"\") = %+v\nDefaults() = %+v", c, config.Defaults())
	}
}

// TestDir: the page's file names are read from the config file's directory.
func TestDir(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	dir := t.TempDir()
	path := filepath.Join(dir, "invites.toml")
	if err := os.WriteFile(path, []byte("[page]\nclients_file = \"clients.json\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Dir() != dir {
		t.Errorf("dir = %q, want %q", c.Dir(), dir)
	}
	if _, err := c.Page.Options(c.Dir()); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "clients.json")) {
		t.Errorf("a missing clients file: %v", err)
	}
	if c, _ := config.Parse(""); c.Dir() != "" {
		t.Errorf("inline text has a directory: %q", c.Dir())
	}
}

// TestShippedConfigs: the configs the project ships and shows are valid: the packaged
// /etc/invites/invites.toml and every TOML example of the documentation (README.md and
// docs/*.md) but xmppd's, whose first line names xmppd.toml (examples/xmppd checks those).
func TestShippedConfigs(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	if _, err := config.Load(filepath.Join("..", "..", "deploy", "etc", "invites.toml")); err != nil {
		t.Error(err)
	}
	n := 0
	for _, p := range doctest.Pages(t) {
		for _, b := range doctest.Blocks(p.Text) {
			first, _, _ := strings.Cut(b.Text, "\n")
			if b.Lang != "toml" || strings.HasPrefix(first, "#") && strings.Contains(first, "xmppd.toml") {
				continue
			}
			n++
			c, err := config.Parse(b.Text)
			if err == nil {
				err = c.Normalize()
			}
			if err != nil {
				t.Errorf("%s:%d: the TOML example: %v\n%s", p.Path, b.Line, err, b.Text)
			}
		}
	}
	if n < 3 {
		t.Fatalf("%d TOML examples of the plugin's config in the documentation", n)
	}
}

// TestAccountsTable: the [accounts] table is read strictly, its defaults filled by its
// own method and its refusals prefixed with the table's name.
func TestAccountsTable(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	c, err := config.Parse("[accounts]\nhold_time = \"30s\"\napproval = \"user-invites\"\n[[accounts.host]]\ndomain = \"strict.example\"\napproval = \"all\"\n")
	if err == nil {
		err = c.Normalize()
	}
	if err != nil || c.Accounts.HoldTime != core.Duration(30*time.Second) || c.Accounts.Approval != core.InvitesOfUsers ||
		c.Accounts.InviterStanding != core.InvitesOfUsers || c.Accounts.Hosts[0].Approval != core.InvitesAll {
		t.Fatalf("accounts %+v, %v", c.Accounts, err)
	}
	for i, tc := range []struct{ text, want string }{
		{"[accounts]\napproval = \"maybe\"", `accounts.approval: "maybe" is not known`},
		{"[accounts]\nhold_time = \"0.5s\"", "accounts.hold_time must be between 1 second and 1 day"},
		{"[accounts]\nhold_tme = \"1m\"", "unknown keys: accounts.hold_tme"},
	} {
		c, err := config.Parse(tc.text)
		if err == nil {
			err = c.Normalize()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d: %v, want %q", i, err, tc.want)
		}
	}
}

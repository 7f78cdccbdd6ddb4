package page_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/xmpp-invites/invites/internal/page"
	"github.com/xmpp-invites/invites/internal/password"
)

// TestConfigNormalize: Normalize fills the defaults and checks each key, each error
// naming its key; the TOML tags are the [page] table's keys.
func TestConfigNormalize(t *testing.T) {
	for i, tc := range [...]struct {
		text    string
		wantErr string
	}{
		0:  {text: "site_name = \"Example Chat\"\nlogo_url = \"/logo.svg\"\nlanguages = [\"de\", \"en\"]\nlogin_note = \"Server: example.com\\nPort 5222\"\nmin_password_length = 10\nfailed_attempt_rate = \"5/m\""},
		1:  {text: "logo_url = \"https://cdn.example.com/logo.png\""},
		2:  {text: "failed_attempt_rate = \"off\""},
		3:  {text: ""},
		4:  {text: "logo_url = \"javascript:alert(1)\"", wantErr: "logo_url: \"javascript:alert(1)\" is neither"},
		5:  {text: "logo_url = \"//evil.example/x.png\"", wantErr: "logo_url"},
		6:  {text: "languages = [\"english\"]", wantErr: "languages: \"english\" is not a BCP 47"},
		7:  {text: "languages = [\"EN\"]", wantErr: "canonical form"},
		8:  {text: "languages = [\"de\", \"de\"]", wantErr: "listed twice"},
		9:  {text: "languages = []", wantErr: "at least one language"},
		10: {text: "site_name = \"a\\u0007b\"", wantErr: "site_name"},
		11: {text: "site_name = \"" + strings.Repeat("x", 101) + "\"", wantErr: "site_name"},
		12: {text: "login_note = \"\\u202eevil\"", wantErr: "login_note"},
		13: {text: "min_password_length = 5000", wantErr: "min_password_length: must be between 1 and 1024 (deprecated"},
		14: {text: "failed_attempt_rate = \"many\"", wantErr: "failed_attempt_rate"},
	} {
		var c page.Config
		if _, err := toml.Decode(tc.text, &c); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		err := c.Normalize()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%d: %v", i, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%d: err = %v, want %q", i, err, tc.wantErr)
		}
	}
}

// TestConfigDeprecatedPasswordLength: [page] min_password_length still sets the
// password policy's length when [password] does not, and the two cannot disagree.
func TestConfigDeprecatedPasswordLength(t *testing.T) {
	for i, tc := range []struct {
		page, pw, want int
		wantErr        string
	}{
		{0, 0, 0, ""},
		{10, 0, 10, ""},
		{0, 12, 12, ""},
		{12, 12, 12, ""},
		{10, 12, 0, "min_password_length (10) is deprecated and disagrees with password.min_length (12)"},
	} {
		pw := password.Config{MinLength: tc.pw}
		err := page.Config{MinPasswordLength: tc.page}.ApplyDeprecated(&pw)
		switch {
		case tc.wantErr == "" && (err != nil || pw.MinLength != tc.want):
			t.Errorf("%d: min_length %d, %v; want %d", i, pw.MinLength, err, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%d: err = %v, want %q", i, err, tc.wantErr)
		}
	}
}

// TestConfigOptions: Options reads the files, relative names from the config's
// directory, and refuses a file it cannot use with an error naming the key.
func TestConfigOptions(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("clients.json", `[{"name": "Conversations", "platforms": ["android"], "takes_invites": true,
		"links": [{"label": "F-Droid", "url": "https://f-droid.org/packages/eu.siacs.conversations/"}]}]`)
	write("empty.json", `[]`)
	write("bad-clients.json", `[{"name": "X", "platforms": ["amiga"]}]`)
	write("typo-clients.json", `[{"nme": "X", "platforms": ["android"]}]`)
	write("csrf.key", strings.Repeat("k", 40)+"\n")
	write("short.key", "too short\n")
	write("page/style.css", "body{}")

	c := page.Config{ClientsFile: "clients.json", TemplatesDir: "page", CSRFKeyFile: "csrf.key", SiteName: "Chat", FailedAttemptRate: "3/h"}
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	opts, err := c.Options(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Clients) != 1 || opts.Clients[0].Name != "Conversations" || opts.Templates == nil ||
		string(opts.CSRFKey) != strings.Repeat("k", 40) || opts.SiteName != "Chat" ||
		opts.FailedAttempts != 3 || opts.FailedPeriod != time.Hour {
		t.Errorf("options = %+v", opts)
	}
	// Defaults: nothing read, zero options (the Handler's defaults).
	var def page.Config
	if err := def.Normalize(); err != nil {
		t.Fatal(err)
	}
	opts, err = def.Options(dir)
	if err != nil || opts.Clients != nil || opts.Templates != nil || opts.CSRFKey != nil || opts.FailedAttempts != 0 || opts.FailedPeriod != 0 {
		t.Errorf("default options = %+v, %v", opts, err)
	}
	off := page.Config{FailedAttemptRate: "off"}
	if opts, err := off.Options(dir); err != nil || opts.FailedAttempts >= 0 {
		t.Errorf("off: %+v, %v", opts, err)
	}
	if opts, err := (page.Config{ClientsFile: "empty.json"}).Options(dir); err != nil || opts.Clients == nil || len(opts.Clients) != 0 {
		t.Errorf("an empty client list: %+v, %v", opts.Clients, err)
	}
	abs := page.Config{CSRFKeyFile: filepath.Join(dir, "csrf.key")}
	if _, err := abs.Options("/nonexistent"); err != nil {
		t.Errorf("absolute name: %v", err)
	}

	for i, tc := range []struct {
		p    page.Config
		want string
	}{
		{page.Config{ClientsFile: "missing.json"}, "clients_file: open " + filepath.Join(dir, "missing.json")},
		{page.Config{ClientsFile: "bad-clients.json"}, "clients_file " + filepath.Join(dir, "bad-clients.json") + ": "},
		{page.Config{ClientsFile: "typo-clients.json"}, "nme"},
		{page.Config{ClientsFile: "page"}, "not a regular file"},
		{page.Config{TemplatesDir: "clients.json"}, "templates_dir: " + filepath.Join(dir, "clients.json") + " is not a directory"},
		{page.Config{TemplatesDir: "nope"}, "templates_dir"},
		{page.Config{CSRFKeyFile: "short.key"}, "the key has 9 bytes, it needs at least 32"},
		{page.Config{CSRFKeyFile: "nope.key"}, "csrf_key_file"},
	} {
		if _, err := tc.p.Options(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d: %+v: err = %v, want %q", i, tc.p, err, tc.want)
		}
	}
}

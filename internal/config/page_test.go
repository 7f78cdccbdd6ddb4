package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
)

// TestPageSettings: the [page] table is checked strictly at parse time, each error
// naming its key.
func TestPageSettings(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	for i, tc := range [...]struct {
		text    string
		wantErr string
	}{
		0:  {text: "[page]\nsite_name = \"Example Chat\"\nlogo_url = \"/logo.svg\"\nlanguages = [\"de\", \"en\"]\nlogin_note = \"Server: example.com\\nPort 5222\"\nmin_password_length = 10\nfailed_attempt_rate = \"5/m\""},
		1:  {text: "[page]\nlogo_url = \"https://cdn.example.com/logo.png\""},
		2:  {text: "[page]\nfailed_attempt_rate = \"off\""},
		3:  {text: "[page]\nsite_nam = \"x\"", wantErr: "unknown keys: page.site_nam"},
		4:  {text: "[page]\nlogo_url = \"javascript:alert(1)\"", wantErr: "page.logo_url: \"javascript:alert(1)\" is neither"},
		5:  {text: "[page]\nlogo_url = \"//evil.example/x.png\"", wantErr: "page.logo_url"},
		6:  {text: "[page]\nlanguages = [\"english\"]", wantErr: "page.languages: \"english\" is not a BCP 47"},
		7:  {text: "[page]\nlanguages = [\"EN\"]", wantErr: "canonical form"},
		8:  {text: "[page]\nlanguages = [\"de\", \"de\"]", wantErr: "listed twice"},
		9:  {text: "[page]\nlanguages = []", wantErr: "at least one language"},
		10: {text: "[page]\nsite_name = \"a\\u0007b\"", wantErr: "page.site_name"},
		11: {text: "[page]\nsite_name = \"" + strings.Repeat("x", 101) + "\"", wantErr: "page.site_name"},
		12: {text: "[page]\nlogin_note = \"\\u202eevil\"", wantErr: "page.login_note"},
		13: {text: "[page]\nmin_password_length = 5000", wantErr: "page.min_password_length"},
		14: {text: "[page]\nfailed_attempt_rate = \"many\"", wantErr: "page.failed_attempt_rate"},
		15: {text: "[page]\nclients_file = 3", wantErr: "clients_file"},
	} {
		c, err := config.Parse(tc.text)
		if err == nil {
			err = c.Normalize()
		}
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%d: %v", i, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%d: err = %v, want %q", i, err, tc.wantErr)
		}
	}
}

// TestPageOptions: Options reads the files, relative names from the config's
// directory, and refuses a file it cannot use with an error naming the key.
func TestPageOptions(t *testing.T) {
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

	c, err := config.Parse("[page]\nclients_file = \"clients.json\"\ntemplates_dir = \"page\"\ncsrf_key_file = \"csrf.key\"\nsite_name = \"Chat\"\nfailed_attempt_rate = \"3/h\"")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	opts, err := c.Page.Options(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Clients) != 1 || opts.Clients[0].Name != "Conversations" || opts.Templates == nil ||
		string(opts.CSRFKey) != strings.Repeat("k", 40) || opts.SiteName != "Chat" ||
		opts.FailedAttempts != 3 || opts.FailedPeriod != time.Hour {
		t.Errorf("options = %+v", opts)
	}
	// Defaults: nothing read, the page's own defaults.
	var def config.Config
	if err := def.Normalize(); err != nil {
		t.Fatal(err)
	}
	opts, err = def.Page.Options(dir)
	if err != nil || opts.Clients != nil || opts.Templates != nil || opts.CSRFKey != nil || opts.FailedAttempts != 10 || opts.FailedPeriod != 10*time.Minute {
		t.Errorf("default options = %+v, %v", opts, err)
	}
	off := config.Page{FailedAttemptRate: "off"}
	if opts, err := off.Options(dir); err != nil || opts.FailedAttempts >= 0 {
		t.Errorf("off: %+v, %v", opts, err)
	}
	if opts, err := (config.Page{ClientsFile: "empty.json"}).Options(dir); err != nil || opts.Clients == nil || len(opts.Clients) != 0 {
		t.Errorf("an empty client list: %+v, %v", opts.Clients, err)
	}
	abs := config.Page{CSRFKeyFile: filepath.Join(dir, "csrf.key")}
	if _, err := abs.Options("/nonexistent"); err != nil {
		t.Errorf("absolute name: %v", err)
	}

	for i, tc := range []struct {
		p    config.Page
		want string
	}{
		{config.Page{ClientsFile: "missing.json"}, "page.clients_file: open " + filepath.Join(dir, "missing.json")},
		{config.Page{ClientsFile: "bad-clients.json"}, "page.clients_file " + filepath.Join(dir, "bad-clients.json") + ": "},
		{config.Page{ClientsFile: "typo-clients.json"}, "nme"},
		{config.Page{ClientsFile: "page"}, "not a regular file"},
		{config.Page{TemplatesDir: "clients.json"}, "page.templates_dir: " + filepath.Join(dir, "clients.json") + " is not a directory"},
		{config.Page{TemplatesDir: "nope"}, "page.templates_dir"},
		{config.Page{CSRFKeyFile: "short.key"}, "the key has 9 bytes, it needs at least 32"},
		{config.Page{CSRFKeyFile: "nope.key"}, "page.csrf_key_file"},
	} {
		if _, err := tc.p.Options(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d: %+v: err = %v, want %q", i, tc.p, err, tc.want)
		}
	}
}

func TestPageHosts(t *testing.T) {
	c, err := config.Parse("landing_page = \"builtin\"\n[[host]]\ndomain = \"a.example\"\n[[host]]\ndomain = \"b.example\"\nlanding_page = \"https://b.example/i?{token}\"")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	got := config.PageHosts(c.CoreHosts("c.example"))
	if strings.Join(got, ",") != "a.example,c.example" {
		t.Errorf("page hosts = %v", got)
	}
	if got := config.PageHosts([]core.HostConfig{{Domain: "x.example"}}); got != nil {
		t.Errorf("no builtin page: %v", got)
	}
}

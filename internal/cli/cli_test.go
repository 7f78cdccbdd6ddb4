package cli_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/cli"
	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
)

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{12}/[A-Za-z0-9_-]{36}\n$`)

// run runs the command line against dir and returns exit code, stdout and stderr.
func run(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	return runArgs(t, append([]string{"-data", dir}, args...)...)
}

// runArgs runs the command line with exactly args.
func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// serverStore makes the store of dataDir as the server does at its first start, with
// the domains it serves recorded, and returns it open.
func serverStore(t *testing.T, dataDir string, domains ...string) core.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dataDir, config.StoreFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var recs []core.RecordedHost
	for _, d := range domains {
		recs = append(recs, core.RecordedHost{Domain: d})
	}
	if err := st.RecordHosts(ctx, recs); err != nil {
		t.Fatal(err)
	}
	return st
}

// auditOnly reports whether stderr holds exactly one audit record per event given, in
// order, each of the command line (issue 22), and nothing else.
func auditOnly(stderr string, events ...string) bool {
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if stderr == "" || len(lines) != len(events) {
		return len(events) == 0 && stderr == ""
	}
	for i, l := range lines {
		if !strings.Contains(l, " msg=audit audit=true event="+events[i]+" ") || !strings.Contains(l, " actor=cli") {
			return false
		}
	}
	return true
}

func TestKeysLifecycle(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	dir := t.TempDir()
	serverStore(t, dir)

	code, out, errOut := run(t, dir, "keys", "create", "localhost", "My test key", "--expires", "30d", "--max-ttl=2d", "--rate", "10/m")
	if code != 0 || !keyPattern.MatchString(out) || !auditOnly(errOut, "key.created") {
		t.Fatalf("create: code %d, out %q, err %q", code, out, errOut)
	}
	id := strings.SplitN(out, "/", 2)[0]
	code, out, _ = run(t, dir, "keys", "create", "localhost", "manager", "--manage")
	if code != 0 || !keyPattern.MatchString(out) {
		t.Fatalf("create --manage: code %d, out %q", code, out)
	}
	managerID := strings.SplitN(out, "/", 2)[0]

	code, out, _ = run(t, dir, "keys", "list", "localhost")
	if code != 0 {
		t.Fatalf("list: code %d", code)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("list = %q", out)
	}
	cols := strings.Split(lines[0], "\t")
	if len(cols) != 7 || cols[0] != id || cols[1] != "My test key" || cols[3] == "never" || cols[4] != "never" || cols[5] != "0" || cols[6] != "-" {
		t.Fatalf("list line = %q", lines[0])
	}
	if cols := strings.Split(lines[1], "\t"); cols[0] != managerID || cols[6] != "manage" {
		t.Fatalf("manager's line = %q", lines[1])
	}

	if code, out, errOut = run(t, dir, "keys", "delete", "localhost", id); code != 0 || out != "" || !auditOnly(errOut, "key.deleted") {
		t.Fatalf("delete: code %d, out %q, err %q", code, out, errOut)
	}
	if code, _, errOut = run(t, dir, "keys", "delete", "localhost", id); code != 1 || errOut != "Error: key not found\n" {
		t.Fatalf("delete again: code %d, err %q", code, errOut)
	}
	if code, out, _ = run(t, dir, "keys", "delete", "localhost", "--", managerID); code != 0 || out != "" {
		t.Fatalf("delete after --: code %d, out %q", code, out)
	}
	if code, out, _ = run(t, dir, "keys", "list", "localhost"); code != 0 || out != "" {
		t.Fatalf("list after delete: code %d, out %q", code, out)
	}
}

// TestKeyIDWithDash (issue 16): IDs are base64url, so one in 64 begins with "-";
// "keys delete HOST -Abc…" deletes it rather than complaining of an unknown flag, and
// "--" works too. The same holds for invite IDs.
func TestKeyIDWithDash(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	dir := t.TempDir()
	st := serverStore(t, dir)
	ctx := context.Background()
	secret := sha256.Sum256([]byte("secret"))
	for _, id := range []string{"-AbcDefGhiJk", "--bcDefGhiJk", "-h_DefGhiJkL"} {
		if err := st.CreateKey(ctx, core.Key{ID: id, Host: "localhost", SecretHash: secret[:], CreatedAt: time.Now()}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if code, out, errOut := run(t, dir, "keys", "delete", "localhost", "-AbcDefGhiJk"); code != 0 || out != "" || !auditOnly(errOut, "key.deleted") {
		t.Fatalf("delete -AbcDefGhiJk: code %d, out %q, err %q", code, out, errOut)
	}
	if code, _, errOut := run(t, dir, "keys", "delete", "localhost", "--bcDefGhiJk"); code != 0 || !auditOnly(errOut, "key.deleted") {
		t.Fatalf("delete --bcDefGhiJk: code %d, err %q", code, errOut)
	}
	if code, _, errOut := run(t, dir, "keys", "delete", "localhost", "--", "-h_DefGhiJkL"); code != 0 || !auditOnly(errOut, "key.deleted") {
		t.Fatalf("delete -- -h_DefGhiJkL: code %d, err %q", code, errOut)
	}
	if code, out, _ := run(t, dir, "keys", "list", "localhost"); code != 0 || out != "" {
		t.Fatalf("keys left: %q", out)
	}
	inv := core.Invite{ID: "-nviteIDabcd", TokenHash: secret[:], Host: "localhost", Kind: core.KindAccount, CreatedBy: "cli",
		MaxUses: 1, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if err := st.CreateInvite(ctx, inv, core.InviteWrite{}); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := run(t, dir, "invites", "show", "localhost", "-nviteIDabcd"); code != 0 || !strings.Contains(out, "-nviteIDabcd") {
		t.Fatalf("show -nviteIDabcd: code %d, out %q, err %q", code, out, errOut)
	}
	if code, _, errOut := run(t, dir, "invites", "revoke", "localhost", "-nviteIDabcd"); code != 0 || !auditOnly(errOut, "invite.revoked") {
		t.Fatalf("revoke -nviteIDabcd: code %d, err %q", code, errOut)
	}
}

func TestErrorsAndUsage(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	dir := t.TempDir()
	for i, tc := range [...]struct {
		args    []string
		code    int
		stdout  string // prefix
		stderr  string // prefix
		noStore bool   // the data directory does not exist, and must not be created
	}{
		0:  {args: []string{"keys", "create", "example.net"}, code: 1, stderr: "Error: please supply a valid host\ninvites-plugin: \"example.net\" is not a host of this installation; known: localhost"},
		1:  {args: []string{"keys", "list", "not a host"}, code: 1, stderr: "Error: please supply a valid host\n"},
		2:  {args: []string{"keys", "delete", "localhost", "AAAAAAAAAAAA"}, code: 1, stderr: "Error: key not found\n"},
		3:  {args: []string{"keys", "delete", "localhost", "bad/id"}, code: 1, stderr: "Error: key not found\n"},
		4:  {args: []string{}, code: 2, stderr: "invites-plugin: no command given", noStore: true},
		5:  {args: []string{"keys"}, code: 2, stderr: "invites-plugin: keys: want", noStore: true},
		6:  {args: []string{"keys", "frob", "localhost"}, code: 2, stderr: "invites-plugin: keys: unknown verb", noStore: true},
		7:  {args: []string{"keys", "create"}, code: 2, stderr: "invites-plugin: keys create: want HOST", noStore: true},
		8:  {args: []string{"keys", "create", "localhost", "a", "b"}, code: 2, noStore: true, stderr: "invites-plugin: keys create"},
		9:  {args: []string{"keys", "create", "localhost", "--expires", "soon"}, code: 1, stderr: "Error: --expires: \"soon\" is not a duration"},
		10: {args: []string{"keys", "create", "localhost", "--rate", "5"}, code: 1, stderr: "Error: --rate: \"5\" is not a rate"},
		11: {args: []string{"keys", "create", "localhost", "--bogus", "1"}, code: 2, stderr: "invites-plugin: unknown flag --bogus", noStore: true},
		12: {args: []string{"keys", "list", "localhost", "--rate", "5/m"}, code: 2, stderr: "invites-plugin: keys list takes no options", noStore: true},
		13: {args: []string{"keys", "list"}, code: 2, noStore: true, stderr: "invites-plugin: keys list: want HOST"},
		14: {args: []string{"keys", "delete", "localhost"}, code: 2, noStore: true, stderr: "invites-plugin: keys delete: want HOST ID"},
		15: {args: []string{"serve"}, code: 2, noStore: true, stderr: "invites-plugin: unknown command"},
		16: {args: []string{"--help"}, code: 0, stdout: "Usage:", noStore: true},
		17: {args: []string{"keys", "create", "--help"}, code: 0, stdout: "Usage:", noStore: true},
		18: {args: []string{"keys", "delete", "-h"}, code: 0, stdout: "Usage:", noStore: true},
		19: {args: []string{"keys", "create", "localhost", "--expires"}, code: 2, noStore: true, stderr: "invites-plugin: flag --expires needs a value"},
		20: {args: []string{"-config", filepath.Join(dir, "missing.toml"), "keys", "list", "localhost"}, code: 1, stderr: "Error: reading the config file:"},
		21: {args: []string{"help"}, code: 0, stdout: "Usage:", noStore: true},
		22: {args: []string{"-h"}, code: 0, stdout: "Usage:", noStore: true},
		23: {args: []string{"--version"}, code: 0, stdout: "invites-plugin ", noStore: true},
		24: {args: []string{"version"}, code: 0, stdout: "invites-plugin ", noStore: true},
		25: {args: []string{"keys", "create", "localhost", "--manage=yes"}, code: 2, noStore: true, stderr: "invites-plugin: flag --manage takes no value"},
		26: {args: []string{"invites", "create", "localhost", "--rate", "1/h"}, code: 2, noStore: true, stderr: "invites-plugin: invites create takes no --rate"},
		27: {args: []string{"invites", "create", "localhost", "--max-uses", "two"}, code: 1, stderr: "Error: --max-uses: write a whole number of accounts"},
		28: {args: []string{"invites", "create", "localhost", "--reset", "juliet", "--username", "romeo"}, code: 2, noStore: true, stderr: "invites-plugin: --reset names the account"},
		29: {args: []string{"invites", "list", "localhost", "--status", "lost"}, code: 1, stderr: "Error: --status: unknown status \"lost\""},
		30: {args: []string{"invites", "show", "localhost"}, code: 2, noStore: true, stderr: "invites-plugin: invites show: want HOST ID"},
		31: {args: []string{"invites", "frob"}, code: 2, noStore: true, stderr: "invites-plugin: invites: unknown verb"},
		32: {args: []string{"invites", "show", "localhost", "AAAAAAAAAAAA"}, code: 1, stderr: "Error: invite not found\n"},
		33: {args: []string{"invites", "revoke", "localhost", "nonsense"}, code: 1, stderr: "Error: invite not found\n"},
		34: {args: []string{"invites", "create", "localhost", "--ttl", "30s"}, code: 1, stderr: "Error: --ttl: a lifetime of 30 seconds is too short: invites live at least 1 minute\n"},
		35: {args: []string{"invites", "create", "localhost", "--ttl", "100d"}, code: 1, stderr: "Error: --ttl: a lifetime of 100 days is longer than the maximum of 90 days\n"},
		36: {args: []string{"invites", "create", "localhost", "--group", "a", "--group", "a"}, code: 1, stderr: "Error: "},
		37: {args: []string{"---data", "x", "keys", "list", "localhost"}, code: 2, noStore: true, stderr: "invites-plugin: unknown flag ---data"},
		// Every refusal of one command line, one line each, naming its flag (issue 26).
		38: {args: []string{"invites", "create", "localhost", "--ttl", "100d", "--max-uses", "-1", "--note", "a\tb", "--group", " x"}, code: 1,
			stderr: "Error: --max-uses: write a whole number of accounts from 0 (any number until the invite expires) to 1000000\n" +
				"Error: --ttl: a lifetime of 100 days is longer than the maximum of 90 days\n" +
				"Error: --note: the note contains the control character U+0009; line breaks, control and bidirectional formatting characters are not allowed\n" +
				"Error: --group: group name \" x\" must not be empty or begin or end with a space\n"},
		39: {args: []string{"invites", "create", "localhost", "--username", "juliet", "--max-uses", "2"}, code: 1,
			stderr: "Error: --max-uses: an invite for the fixed username juliet makes one account: leave max_uses at 1, or leave out the username\n"},
		40: {args: []string{"keys", "create", "localhost", "bad\x07name", "--expires", "30s", "--rate", "x"}, code: 1,
			stderr: "Error: --rate: \"x\" is not a rate: write N/PERIOD, such as 10/m, 100/1h or 1000/day\n" +
				"Error: NAME: the key name contains the control character U+0007; line breaks, control and bidirectional formatting characters are not allowed\n" +
				"Error: --expires: must be between 1 minute and 36500 days\n"},
		41: {args: []string{"invites", "create", "localhost", "--reset", "a b"}, code: 1, stderr: "Error: --reset: \"a b\" is not a valid username\n"},
		// A mistyped store address is refused before anything is made (issue 22).
		42: {args: []string{"-store", "sqlit:/x.db", "keys", "list", "localhost"}, code: 1, noStore: true,
			stderr: "Error: the store address has the unknown scheme \"sqlit\": use a file path (./sqlit:/x.db for a file whose name has a colon), sqlite:PATH, or a postgres:// or postgresql:// URL\n"},
	} {
		sub := filepath.Join(dir, strings.Repeat("x", i+1))
		if !tc.noStore {
			serverStore(t, sub)
		}
		code, out, errOut := run(t, sub, tc.args...)
		if code != tc.code || !strings.HasPrefix(out, tc.stdout) || !strings.HasPrefix(errOut, tc.stderr) {
			t.Errorf("%d %q: code %d, stdout %q, stderr %q", i, tc.args, code, out, errOut)
		}
		if tc.code == 2 && !strings.Contains(errOut, "Usage:") {
			t.Errorf("%d: a usage error must print the usage, got %q", i, errOut)
		}
		if tc.code == 0 && errOut != "" {
			t.Errorf("%d: help or version wrote to stderr: %q", i, errOut)
		}
		if _, err := os.Stat(sub); tc.noStore && err == nil {
			t.Errorf("%d: the command created the data directory", i)
		}
		if _, err := os.Stat("sqlit:"); err == nil {
			t.Fatalf("%d: a directory named sqlit: was made", i)
		}
		if strings.Contains(errOut, "core:") || strings.Contains(errOut, "invalid input") || regexp.MustCompile(`\d+h\d+m\d+s`).MatchString(errOut) {
			t.Errorf("%d: error not in the user's words: %q", i, errOut)
		}
	}
}

// TestNoNewStore (issue 16): run from another directory, or with a wrong -data or
// -store, the command line makes no new store (whose key the server would reject); it
// says where it looked and how to point at the server's store, and creates nothing.
func TestNoNewStore(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	elsewhere := t.TempDir()
	t.Chdir(elsewhere)
	empty := t.TempDir()
	for i, tc := range []struct {
		args []string
		want string
	}{
		0: {[]string{"keys", "create", "localhost"}, "the data directory " + filepath.Join(elsewhere, "data") + " does not exist"},
		1: {[]string{"-data", filepath.Join(elsewhere, "typo"), "keys", "list", "localhost"}, "the data directory " + filepath.Join(elsewhere, "typo") + " does not exist"},
		2: {[]string{"-data", empty, "invites", "create", "localhost"}, "there is no invite store in the data directory " + empty + " (no invites.db there"},
		3: {[]string{"-store", filepath.Join(empty, "other.db"), "keys", "create", "localhost"}, "the store file " + filepath.Join(empty, "other.db") + " does not exist"},
		4: {[]string{"-store", "sqlite:" + filepath.Join(empty, "x.db"), "keys", "list", "localhost"}, "the store file " + filepath.Join(empty, "x.db") + " does not exist"},
	} {
		code, out, errOut := runArgs(t, tc.args...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "Error: "+tc.want) ||
			!strings.Contains(errOut, "-data DIR") || !strings.Contains(errOut, "-store") || !strings.Contains(errOut, "INVITES_STORE") {
			t.Errorf("%d: code %d, out %q, err %q; want it to say %q and how to point at the server's store", i, code, out, errOut, tc.want)
		}
	}
	for _, d := range []string{elsewhere, empty} {
		if entries, err := os.ReadDir(d); err != nil || len(entries) != 0 {
			t.Errorf("%s holds %v (%v), want nothing", d, entries, err)
		}
	}
	// INVITES_STORE naming a missing file is refused the same way.
	t.Setenv(config.EnvStore, filepath.Join(empty, "env.db"))
	if code, _, errOut := runArgs(t, "-data", empty, "keys", "list", "localhost"); code != 1 || !strings.Contains(errOut, "env.db does not exist") {
		t.Errorf("INVITES_STORE to a missing file: code %d, err %q", code, errOut)
	}
}

// TestHostsFromConfigAndServer: a HOST is valid when the config lists it, when the
// server recorded it in the data directory, or in the store itself (which every node's
// command line reads, issue 16).
func TestHostsFromConfigAndServer(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	dir := t.TempDir()
	serverStore(t, dir)
	cfg := filepath.Join(dir, "invites.toml")
	if err := os.WriteFile(cfg, []byte("[[host]]\ndomain = \"example.com\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run(t, dir, "-config", cfg, "keys", "create", "example.com"); code != 0 {
		t.Fatalf("configured host refused: %q", errOut)
	}
	if code, _, _ := run(t, dir, "-config", cfg, "keys", "create", "localhost"); code != 1 {
		t.Fatalf("localhost accepted though the config names other hosts")
	}
	if err := config.RecordDomains(dir, []string{"chat.example"}); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run(t, dir, "keys", "create", "chat.example", "portal"); code != 0 {
		t.Fatalf("host reported by the server refused: %q", errOut)
	}

	// A store the server recorded its domain in, used from a directory that knows
	// nothing: with -store alone the host is known.
	other := t.TempDir()
	serverStore(t, other, "xmpp.example")
	t.Chdir(t.TempDir())
	dbFile := filepath.Join(other, config.StoreFile)
	if code, out, errOut := runArgs(t, "-store", dbFile, "keys", "create", "xmpp.example", "portal"); code != 0 || !keyPattern.MatchString(out) {
		t.Fatalf("host recorded in the store refused: code %d, err %q", code, errOut)
	}
	if code, _, errOut := runArgs(t, "-store", dbFile, "keys", "create", "localhost"); code != 1 ||
		!strings.Contains(errOut, "known: xmpp.example") {
		t.Fatalf("localhost with a store that records another host: code %d, err %q", code, errOut)
	}
}

// TestInvites drives "invites create|list|show|revoke" on one store.
func TestInvites(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	dir := t.TempDir()
	st := serverStore(t, dir)
	ctx := context.Background()

	code, out, errOut := run(t, dir, "invites", "create", "localhost", "--note", "spring course", "--group", "team", "--group", "staff",
		"--max-uses", "2", "--ttl", "2d")
	if code != 0 || !strings.HasPrefix(out, "xmpp:localhost?register;preauth=") || !auditOnly(errOut, "invite.created") {
		t.Fatalf("create: code %d, out %q, err %q", code, out, errOut)
	}
	token := strings.TrimSpace(strings.TrimPrefix(out, "xmpp:localhost?register;preauth="))
	if !core.ValidToken(token) {
		t.Fatalf("token %q", token)
	}
	id := core.TokenID(token)
	code, out, _ = run(t, dir, "invites", "create", "localhost", "--username", "Juliet", "--json")
	var created struct {
		ID, Token, URI, Username, Kind, Status string
		MaxUses                                int `json:"max_uses"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &created) != nil || created.Username != "juliet" || created.Token == "" ||
		!strings.HasPrefix(created.URI, "xmpp:juliet@localhost?register;preauth=") || created.MaxUses != 1 || created.Status != "pending" {
		t.Fatalf("create --json: code %d, out %q", code, out)
	}
	code, out, _ = run(t, dir, "invites", "create", "localhost", "--reset", "romeo", "--note", "lost phone")
	if code != 0 || !strings.HasPrefix(out, "xmpp:romeo@localhost?register;preauth=") {
		t.Fatalf("create --reset: code %d, out %q", code, out)
	}

	// Two redemptions by the server.
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "localhost"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ann", "ben"} {
		if _, err := svc.Redeem(ctx, core.Redemption{Host: "localhost", Token: token, Username: name}); err != nil {
			t.Fatal(err)
		}
	}

	code, out, _ = run(t, dir, "invites", "list", "localhost")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("list: code %d, out %q", code, out)
	}
	if cols := strings.Split(lines[0], "\t"); len(cols) != 7 || cols[1] != "reset" || cols[6] != "lost phone" || cols[5] != "cli" {
		t.Errorf("newest line %q", lines[0])
	}
	if cols := strings.Split(lines[2], "\t"); cols[0] != id || cols[1] != "account" || cols[2] != "used" || cols[3] != "2/2" || cols[6] != "spring course" {
		t.Errorf("oldest line %q", lines[2])
	}
	if code, out, _ = run(t, dir, "invites", "list", "localhost", "--status", "used"); code != 0 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, id+"\t") {
		t.Errorf("list --status used: %d %q", code, out)
	}
	code, out, _ = run(t, dir, "invites", "list", "localhost", "--status", "pending", "--json")
	var pending []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &pending) != nil || len(pending) != 2 || pending[0]["token"] != nil {
		t.Errorf("list --json: %d %q", code, out)
	}

	code, out, _ = run(t, dir, "invites", "show", "localhost", id)
	if f := fields(out); code != 0 || f["used by"] != "ann@localhost at" || f["groups"] != "team, staff" || f["uses"] != "2 of 2" ||
		f["status"] != "used" || f["note"] != "spring course" || !strings.Contains(out, "ben@localhost at ") {
		t.Errorf("show: %d %q\n%s", code, f, out)
	}
	code, out, _ = run(t, dir, "invites", "show", "localhost", id, "--json")
	var shown struct {
		Redemptions []struct{ JID string }
		Groups      []string
	}
	if code != 0 || json.Unmarshal([]byte(out), &shown) != nil || len(shown.Redemptions) != 2 || shown.Redemptions[1].JID != "ben@localhost" {
		t.Errorf("show --json: %d %q", code, out)
	}

	// update: the expiry, max_uses and note.
	if code, out, errOut = run(t, dir, "invites", "update", "localhost", id, "--expires", "3d", "--max-uses", "3", "--note", ""); code != 0 || out != "" || !auditOnly(errOut, "invite.updated") {
		t.Fatalf("update: %d %q %q", code, out, errOut)
	}
	if f := fields(mustRun(t, dir, "invites", "show", "localhost", id)); f["status"] != "pending" || f["uses"] != "2 of 3" || f["note"] != "" {
		t.Errorf("after update: %q", f)
	}
	in30 := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	if code, out, _ = run(t, dir, "invites", "update", "localhost", id, "--expires", in30, "--json"); code != 0 ||
		!strings.Contains(out, `"expires_at": "`+in30+`"`) {
		t.Errorf("update --expires TIME --json: %d %q", code, out)
	}
	for i, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{id, "--max-uses", "1"}, 1, "Error: --max-uses: 1 is below the 2 uses already made\n"},
		{[]string{id}, 2, "invites-plugin: invites update: say what to change"},
		{[]string{id, "--expires", "someday"}, 1, "Error: --expires: give a time"},
		{[]string{"AAAAAAAAAAAA", "--note", "x"}, 1, "Error: invite not found\n"},
		{[]string{id, "--expires", "1000d"}, 1, "Error: --expires: "},
		{[]string{created.ID, "--note", strings.Repeat("n", 300)}, 1, "Error: --note: the note is 300 characters long"},
		{[]string{id, "--expires", "1000d", "--max-uses", "x"}, 1, "Error: --max-uses: write a whole number of accounts from 0 (any number until the invite expires) to 1000000\nError: --expires: "},
	} {
		if code, _, errOut := run(t, dir, append([]string{"invites", "update", "localhost"}, tc.args...)...); code != tc.code || !strings.HasPrefix(errOut, tc.err) {
			t.Errorf("update %d %q: %d %q", i, tc.args, code, errOut)
		}
	}

	if code, out, errOut = run(t, dir, "invites", "revoke", "localhost", created.ID); code != 0 || out != "" || !auditOnly(errOut, "invite.revoked") {
		t.Fatalf("revoke: %d %q %q", code, out, errOut)
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "localhost", Token: created.Token, Username: "juliet"}); err == nil {
		t.Fatal("the revoked invite was redeemed")
	}
	if code, out, _ = run(t, dir, "invites", "show", "localhost", created.ID); code != 0 || fields(out)["status"] != "revoked" || fields(out)["revoked"] == "" {
		t.Errorf("show revoked: %d\n%s", code, out)
	}
}

// fields reads "invites show": a name, two spaces or more, a value, a line each; the
// value of "used by" is its first account and "at".
func fields(out string) map[string]string {
	m := map[string]string{}
	for line := range strings.Lines(out) {
		name, value, ok := strings.Cut(strings.TrimRight(line, "\n"), "  ")
		if !ok || name == "" {
			continue
		}
		value = strings.TrimSpace(value)
		if name == "used by" {
			value = strings.Join(strings.Fields(value)[:2], " ")
		}
		m[name] = value
	}
	return m
}

// mustRun runs the command line against dir and returns its output; it must succeed.
func mustRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, dir, args...)
	if code != 0 {
		t.Fatalf("%q: code %d, err %q", args, code, errOut)
	}
	return out
}

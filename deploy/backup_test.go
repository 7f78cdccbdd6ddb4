package deploy_test

import (
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// TestServiceBackupRestore follows the operator guide's backup and restore of a whole
// service (docs/operator.md, section 7): invitesctl backup and sqlite3's .backup of
// xmppd's accounts while the server runs, then, into a new data directory, invitesctl
// restore and sqlite3's .restore, and the server started on it: the key works, the
// pending invite's token is valid, the account made before the backup exists. A restore
// into the store of a running server is refused.
func TestServiceBackupRestore(t *testing.T) {
	sqlite3 := tool(t, "sqlite3")
	bin := binaries(t)
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	invitesctl := func(data string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(filepath.Join(repoRoot(t), "deploy", "invitesctl"), args...)
		cmd.Env = append(os.Environ(), "INVITES_USER="+me.Username, "INVITES_DATA_DIR="+data,
			"INVITES_CONFIG="+filepath.Join(repoRoot(t), "deploy", "etc", "invites.toml"), "INVITES_PLUGIN="+filepath.Join(bin, "invites-plugin"))
		// The command line writes its audit records on stderr: stdout is the answer.
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return strings.TrimSpace(string(out) + stderr.String()), err
		}
		return strings.TrimSpace(string(out)), nil
	}
	must := func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return out
	}

	data := filepath.Join(t.TempDir(), "invites")
	srv := startServer(t, serverOptions{data: data})
	key := must(invitesctl(data, "keys", "create", "localhost", "portal"))
	c := client(nil, "127.0.0.1")
	var tokens []string
	for range 2 {
		r := do(t, c, "POST", "http://"+srv.http+"/invites_api", http.Header{"Authorization": {"Bearer " + key}}, "")
		if r.status != http.StatusCreated {
			t.Fatalf("POST /invites_api: %d %s", r.status, r.body)
		}
		tokens = append(tokens, preauthOf(r.header.Get("Location")))
	}
	x := dialXMPP(t, srv.c2s, "localhost")
	x.iq(t, `<iq type='set' id='pa'><preauth xmlns='urn:xmpp:pars:0' token='`+tokens[0]+`'/></iq>`)
	if a := x.iq(t, `<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>alice</username><password>correct horse battery</password></query></iq>`); !isResult(a) {
		t.Fatalf("registration: %s", a)
	}

	// The backup, while the server runs.
	backups := t.TempDir()
	out := must(invitesctl(data, "backup", "--to", filepath.Join(backups, "invites.db")))
	if !strings.Contains(out, "1 API keys, 2 invites") {
		t.Errorf("backup: %s", out)
	}
	if out, err := exec.Command(sqlite3, filepath.Join(data, "accounts.db"), ".backup "+filepath.Join(backups, "accounts.db")).CombinedOutput(); err != nil {
		t.Fatalf("sqlite3 .backup: %v %s", err, out)
	}
	if out, err := invitesctl(data, "restore", "--from", filepath.Join(backups, "invites.db")); err == nil || !strings.Contains(out, "in use") {
		t.Errorf("restore into the running server's store: %v %s", err, out)
	}
	srv.stop(t)

	// The restore, into a new data directory.
	fresh := filepath.Join(t.TempDir(), "invites")
	must(invitesctl(fresh, "restore", "--from", filepath.Join(backups, "invites.db")))
	if out, err := exec.Command(sqlite3, filepath.Join(fresh, "accounts.db"), ".restore "+filepath.Join(backups, "accounts.db")).CombinedOutput(); err != nil {
		t.Fatalf("sqlite3 .restore: %v %s", err, out)
	}
	again := startServer(t, serverOptions{data: fresh})
	if r := do(t, c, "POST", "http://"+again.http+"/invites_api", http.Header{"Authorization": {"Bearer " + key}}, ""); r.status != http.StatusCreated {
		t.Errorf("the key after the restore: %d %s", r.status, r.body)
	}
	y := dialXMPP(t, again.c2s, "localhost")
	if a := y.iq(t, `<iq type='set' id='pa'><preauth xmlns='urn:xmpp:pars:0' token='`+tokens[1]+`'/></iq>`); !isResult(a) {
		t.Errorf("the pending invite after the restore: %s", a)
	}
	if a := y.iq(t, `<iq type='set' id='pb'><preauth xmlns='urn:xmpp:pars:0' token='`+tokens[0]+`'/></iq>`); isResult(a) {
		t.Errorf("the used invite is usable again after the restore: %s", a)
	}
	add := exec.Command(filepath.Join(bin, "xmppd"), "-data", fresh, "adduser", "alice@localhost", "-")
	add.Stdin = strings.NewReader("another password\n")
	if out, err := add.CombinedOutput(); err == nil || !strings.Contains(string(out), "already exists") {
		t.Errorf("alice after the restore: adduser says %v %s", err, out)
	}
}

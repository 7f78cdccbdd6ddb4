package deploy_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proxied is one xmppd behind the proxies: its public URL as a proxy serves it, the
// key the test uses, and the client address its audit log must show for a request
// that came through a proxy from 127.0.0.2 with a forged X-Forwarded-For.
type proxied struct {
	srv        *server
	httpURL    string // xmppd's -http-url
	key        string
	wantRemote string
}

// TestReverseProxies runs Debian's nginx and caddy, with configurations rendered from
// the shipped ones (deploy/nginx, deploy/caddy: only the listening address, the
// certificate, the server name and xmppd's address change), in front of two xmppd:
// one served at the site root whose plugin trusts the proxy's address, one under the
// prefix /xmpp that trusts nobody. Through each proxy it checks Location, the Link
// header, the page's links and form action and a web registration, the client address
// the audit log records (and that a forged X-Forwarded-For is not believed), that
// /metrics, /healthz and /readyz are not exposed, and, through nginx, that 413, 429 and
// 503 pass through with their headers and bodies.
func TestReverseProxies(t *testing.T) {
	nginx, caddy := tool(t, "nginx"), tool(t, "caddy")
	bin := binaries(t)
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	ports := map[string]int{}
	for _, name := range []string{"nginx-root", "nginx-prefix", "nginx-redirect", "caddy-root", "caddy-prefix"} {
		ports[name] = freePort(t)
	}
	rootURL := fmt.Sprintf("https://localhost:%d", ports["nginx-root"])
	prefixURL := fmt.Sprintf("https://localhost:%d/xmpp", ports["nginx-prefix"])

	rootCfg := writeFile(t, dir, "root.toml", "landing_page = \"builtin\"\n[http]\ntrusted_proxies = [\"127.0.0.1\"]\n")
	root := startServer(t, serverOptions{args: []string{"-http-url", rootURL, "-plugin-config", rootCfg}})
	// The other plugin starts through a wrapper that fails while a flag file exists.
	down := filepath.Join(dir, "plugin-down")
	wrapper := writeFile(t, dir, "plugin.sh", fmt.Sprintf("#!/bin/sh\nif [ -e %q ]; then echo 'cannot start' >&2; exit 1; fi\nexec %q \"$@\"\n",
		down, filepath.Join(bin, "invites-plugin")))
	if err := os.Chmod(wrapper, 0o700); err != nil {
		t.Fatal(err)
	}
	prefixCfg := writeFile(t, dir, "prefix.toml", "landing_page = \"builtin\"\n")
	prefix := startServer(t, serverOptions{args: []string{"-http-url", prefixURL, "-plugin", wrapper, "-plugin-config", prefixCfg}})

	rootSite := proxied{srv: root, httpURL: rootURL, key: cli(t, bin, root.data, "keys", "create", "localhost", "nginx"), wantRemote: "127.0.0.2"}
	prefixSite := proxied{srv: prefix, httpURL: prefixURL, key: cli(t, bin, prefix.data, "keys", "create", "localhost", "nginx"), wantRemote: "127.0.0.1"}
	c := client(pool, "127.0.0.2")

	// Straight to xmppd, the same forged header: the peer is not a trusted proxy, so
	// the peer is the client.
	direct := "http://" + root.http
	inv := createInvite(t, c, direct, rootSite.key)
	if rec := root.logRecord(t, map[string]string{"msg": "audit", "event": "invite.created", "invite_id": inv.ID}); rec["remote"] != "127.0.0.2" {
		t.Errorf("direct request: audit remote %v, want 127.0.0.2", rec["remote"])
	}
	// xmppd answers /metrics to loopback connections, hence to a proxy on this machine:
	// the proxies must not forward it.
	if r := do(t, client(pool, "127.0.0.1"), "GET", direct+"/metrics", nil, ""); r.status != http.StatusOK {
		t.Fatalf("xmppd's own /metrics: %d", r.status)
	}

	t.Run("nginx", func(t *testing.T) {
		conf := t.TempDir()
		site := func(file string, port int, backend string) string {
			s := replace(t, readFile(t, "deploy/nginx/"+file),
				"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d ssl http2;", port),
				"\tlisten [::]:443 ssl http2;\n", "",
				"server_name example.com;", "server_name localhost;",
				"/etc/letsencrypt/live/example.com/fullchain.pem", certFile,
				"/etc/letsencrypt/live/example.com/privkey.pem", keyFile,
				"127.0.0.1:5280", backend)
			if file == "invites.conf" {
				s = replace(t, s, "listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", ports["nginx-redirect"]), "\tlisten [::]:80;\n", "")
			}
			return s
		}
		writeFile(t, conf, "snippets/invites-proxy.conf", readFile(t, "deploy/nginx/invites-proxy.conf"))
		writeFile(t, conf, "invites.conf", site("invites.conf", ports["nginx-root"], root.http))
		writeFile(t, conf, "invites-prefix.conf", site("invites-prefix.conf", ports["nginx-prefix"], prefix.http))
		var temps []string
		for _, d := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
			temps = append(temps, fmt.Sprintf("\t%s_temp_path %s;\n", d, filepath.Join(conf, d)))
		}
		main := writeFile(t, conf, "nginx.conf", fmt.Sprintf(`daemon off;
master_process off;
pid %s;
error_log stderr notice;
events { worker_connections 64; }
http {
	access_log off;
%s	include invites.conf;
	include invites-prefix.conf;
}
`, filepath.Join(conf, "nginx.pid"), strings.Join(temps, "")))
		if out, err := exec.Command(nginx, "-e", "stderr", "-p", conf, "-c", main, "-t").CombinedOutput(); err != nil {
			t.Fatalf("nginx -t: %v\n%s", err, out)
		}
		runProxy(t, exec.Command(nginx, "-e", "stderr", "-p", conf, "-c", main), ports["nginx-root"], ports["nginx-prefix"], ports["nginx-redirect"])

		checkSite(t, c, rootSite, rootURL, "nginxroot")
		checkSite(t, c, prefixSite, prefixURL, "nginxprefix")

		// The plain HTTP server sends browsers to HTTPS.
		r := do(t, c, "GET", fmt.Sprintf("http://localhost:%d/invite?abc", ports["nginx-redirect"]), nil, "")
		if r.status != http.StatusMovedPermanently || r.header.Get("Location") != "https://localhost/invite?abc" {
			t.Errorf("port 80: %d %q", r.status, r.header.Get("Location"))
		}

		// 413: a body beyond the plugin's bound (64 KiB) but within nginx's: the plugin's
		// own answer, in the client's format.
		body := "note=" + strings.Repeat("x", 100<<10)
		r = do(t, c, "POST", rootURL+"/invites_api", http.Header{"Authorization": {"Bearer " + rootSite.key},
			"Accept": {"application/json"}, "Content-Type": {"application/x-www-form-urlencoded"}}, body)
		if r.status != http.StatusRequestEntityTooLarge || r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("413: %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
		}

		// 429: a key with a rate of one invite an hour, its second request.
		limited := cli(t, bin, root.data, "keys", "create", "localhost", "limited", "--rate", "1/h")
		createInvite(t, c, rootURL, limited)
		r = do(t, c, "POST", rootURL+"/invites_api", http.Header{"Authorization": {"Bearer " + limited}, "Accept": {"application/json"}}, "")
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "rate") {
			t.Errorf("429: %d Retry-After %q %q", r.status, r.header.Get("Retry-After"), r.body)
		}

		// 503: the prefix site's plugin killed and unable to start again.
		if err := os.WriteFile(down, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(prefix.pluginPID(t), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		got503 := false
		for deadline := time.Now().Add(15 * time.Second); !got503 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			r = do(t, c, "POST", prefixURL+"/invites_api", http.Header{"Authorization": {"Bearer " + prefixSite.key}}, "")
			got503 = r.status == http.StatusServiceUnavailable
		}
		if !got503 || r.header.Get("Retry-After") == "" {
			t.Errorf("503: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
		}
		if err := os.Remove(down); err != nil {
			t.Fatal(err)
		}
		back := false
		for deadline := time.Now().Add(45 * time.Second); !back && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			r = do(t, c, "POST", prefixURL+"/invites_api", http.Header{"Authorization": {"Bearer " + prefixSite.key}}, "")
			back = r.status == http.StatusCreated
		}
		if !back {
			t.Fatalf("the plugin did not come back: %d", r.status)
		}
	})

	t.Run("caddy", func(t *testing.T) {
		conf := t.TempDir()
		global := fmt.Sprintf("{\n\tadmin off\n\tauto_https disable_redirects\n\tskip_install_trust\n\tstorage file_system %s\n}\n", filepath.Join(conf, "data"))
		site := func(file string, port int, backend string) string {
			return replace(t, readFile(t, "deploy/caddy/"+file),
				"example.com {", fmt.Sprintf("localhost:%d {\n\ttls %s %s", port, certFile, keyFile),
				"127.0.0.1:5280", backend)
		}
		cfg := writeFile(t, conf, "Caddyfile", global+site("Caddyfile", ports["caddy-root"], root.http)+
			site("Caddyfile.prefix", ports["caddy-prefix"], prefix.http))
		cmd := exec.Command(caddy, "run", "--config", cfg, "--adapter", "caddyfile")
		cmd.Env = append(os.Environ(), "HOME="+conf, "XDG_DATA_HOME="+conf, "XDG_CONFIG_HOME="+conf)
		runProxy(t, cmd, ports["caddy-root"], ports["caddy-prefix"])
		checkSite(t, c, rootSite, fmt.Sprintf("https://localhost:%d", ports["caddy-root"]), "caddyroot")
		checkSite(t, c, prefixSite, fmt.Sprintf("https://localhost:%d/xmpp", ports["caddy-prefix"]), "caddyprefix")
	})
}

// runProxy starts a proxy and waits until it listens on every port; it is stopped at
// the end of the test.
func runProxy(t *testing.T, cmd *exec.Cmd, ports ...int) {
	t.Helper()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), out.String())
		}
	})
	for _, p := range ports {
		waitListening(t, fmt.Sprintf("127.0.0.1:%d", p), exited)
	}
}

// created is the JSON answer of a new invite.
type created struct {
	ID, Token string
	Location  string `json:"-"`
}

// createInvite creates an invite at base with key, from the client's address and with
// a forged X-Forwarded-For, and checks the 201.
func createInvite(t *testing.T, c *http.Client, base, key string) created {
	t.Helper()
	r := do(t, c, "POST", base+"/invites_api", http.Header{"Authorization": {"Bearer " + key},
		"Accept": {"application/json"}, "X-Forwarded-For": {"203.0.113.9"}}, "")
	if r.status != http.StatusCreated {
		t.Fatalf("POST %s/invites_api: %d %s", base, r.status, r.body)
	}
	var inv created
	if err := json.Unmarshal([]byte(r.body), &inv); err != nil || inv.ID == "" || inv.Token == "" {
		t.Fatalf("POST %s/invites_api: %v %s", base, err, r.body)
	}
	inv.Location = r.header.Get("Location")
	return inv
}

var (
	hrefOf   = func(id string) *regexp.Regexp { return regexp.MustCompile(`id="` + id + `" href="([^"]+)"`) }
	pageURL  = regexp.MustCompile(`<p class="page-url"><a href="([^"]+)"`)
	formTag  = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	hiddenIn = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
)

// checkSite checks one site through one proxy at base: an invite's Location, its page's
// Link header and links, web registration as user, the client address in the audit
// log, and that the operations endpoints are not exposed.
func checkSite(t *testing.T, c *http.Client, p proxied, base, user string) {
	t.Helper()
	inv := createInvite(t, c, base, p.key)
	if want := p.httpURL + "/invite?" + inv.Token; inv.Location != want {
		t.Errorf("%s: Location %q, want %q", base, inv.Location, want)
	}
	if rec := p.srv.logRecord(t, map[string]string{"msg": "audit", "event": "invite.created", "invite_id": inv.ID}); rec["remote"] != p.wantRemote {
		t.Errorf("%s: audit remote %v, want %s (forged X-Forwarded-For 203.0.113.9)", base, rec["remote"], p.wantRemote)
	}

	page := base + "/invite?" + inv.Token
	r := do(t, c, "GET", page, nil, "")
	wantLink := `<xmpp:localhost?register;preauth=` + inv.Token + `>; rel="alternate"`
	if r.status != http.StatusOK || len(r.header["Link"]) == 0 || r.header["Link"][0] != wantLink {
		t.Fatalf("%s: %d, Link %q, want first %q", page, r.status, r.header["Link"], wantLink)
	}
	if m := pageURL.FindStringSubmatch(r.body); m == nil || html.UnescapeString(m[1]) != inv.Location {
		t.Errorf("%s: the page's own URL %v, want %s", page, m, inv.Location)
	}
	m := hrefOf("register-link").FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("%s: no registration link in\n%s", page, r.body)
	}
	register := resolve(t, page, html.UnescapeString(m[1]))
	if !strings.HasPrefix(register, base+"/register?t="+inv.Token) {
		t.Errorf("%s: registration link %s, want under %s/register", page, register, base)
	}
	r = do(t, c, "GET", register, nil, "")
	f := formTag.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || f == nil {
		t.Fatalf("%s: %d, no form in\n%s", register, r.status, r.body)
	}
	action := resolve(t, register, html.UnescapeString(f[1]))
	if action != base+"/register" {
		t.Errorf("%s: form action %s, want %s/register", register, action, base)
	}
	form := url.Values{"username": {user}, "password": {"correct horse battery"}, "password_confirm": {"correct horse battery"}}
	for _, h := range hiddenIn.FindAllStringSubmatch(r.body, -1) {
		form.Set(h[1], html.UnescapeString(h[2]))
	}
	r = do(t, c, "POST", action, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, form.Encode())
	if r.status != http.StatusOK || !strings.Contains(r.body, user+"@localhost") {
		t.Errorf("POST %s: %d\n%s", action, r.status, r.body)
	}

	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		if r := do(t, c, "GET", base+path, nil, ""); r.status != http.StatusNotFound {
			t.Errorf("%s%s through the proxy: %d, want 404", base, path, r.status)
		}
	}
}

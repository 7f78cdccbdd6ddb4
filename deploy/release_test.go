package deploy_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRelease runs scripts/release.sh as a release manager would, on a machine whose Go
// settings turn VCS stamping off (GOFLAGS=-buildvcs=false, which made --version say
// "(devel)"), and checks what it made: SHA256SUMS right; per architecture a tarball with
// the documents and deploy/, whose binaries are static executables of that architecture
// stamped with the version and the revision; and a Debian package with the binaries,
// invitesctl, the unit, /etc/invites as conffiles and the maintainer scripts of
// deploy/debian. Whether two builds are identical is scripts/release.sh --check (it
// compiles everything again, which takes minutes).
func TestRelease(t *testing.T) {
	dpkgDeb := tool(t, "dpkg-deb")
	root := repoRoot(t)
	const version = "v0.0.0-test.1"
	out := t.TempDir()
	start := time.Now()
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "release.sh"), version, "--out", out)
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, b)
	}
	t.Logf("release.sh took %s", time.Since(start).Round(time.Second))
	rev := strings.TrimSpace(gitOut(t, root, "rev-parse", "HEAD"))
	epoch, err := strconv.ParseInt(strings.TrimSpace(gitOut(t, root, "log", "-1", "--format=%ct", "HEAD")), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	commitTime := time.Unix(epoch, 0).UTC()

	// SHA256SUMS: every artifact, each sum right.
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for line := range strings.Lines(string(sums)) {
		sum, name, ok := strings.Cut(strings.TrimSpace(line), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q", line)
		}
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != sum {
			t.Errorf("%s: SHA256SUMS says %s", name, sum)
		}
		files = append(files, name)
	}
	slices.Sort(files)
	want := []string{"invites_0.0.0~test.1-1_amd64.deb", "invites_0.0.0~test.1-1_arm64.deb",
		"invites_" + version + "_linux_amd64.tar.gz", "invites_" + version + "_linux_arm64.tar.gz"}
	if !slices.Equal(files, want) {
		t.Fatalf("artifacts %q, want %q", files, want)
	}

	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		name := "invites_" + version + "_linux_" + arch
		entries := readTarGz(t, filepath.Join(out, name+".tar.gz"))
		for _, f := range []string{"README.md", "LICENSE", "CHANGELOG.md", "docs/operator.md", "docs/configuration.md", "docs/command-line.md", "xmppd", "invites-plugin",
			"deploy/systemd/invites.service", "deploy/etc/xmppd.toml", "deploy/etc/invites.toml", "deploy/invitesctl",
			"deploy/nginx/invites.conf", "deploy/caddy/Caddyfile", "deploy/prometheus/invites-rules.yml",
			"deploy/grafana/invites-dashboard.json", "deploy/nfpm.yaml", "deploy/debian/postinst"} {
			e, ok := entries[name+"/"+f]
			if !ok {
				t.Errorf("%s.tar.gz lacks %s", name, f)
				continue
			}
			if e.hdr.Uid != 0 || e.hdr.Gid != 0 || !e.hdr.ModTime.Equal(commitTime) {
				t.Errorf("%s/%s: owner %d:%d, time %s; want 0:0 and the commit's %s", name, f, e.hdr.Uid, e.hdr.Gid, e.hdr.ModTime, commitTime)
			}
		}
		for p := range entries {
			if strings.HasSuffix(p, ".go") {
				t.Errorf("%s.tar.gz holds %s", name, p)
			}
		}
		dir := t.TempDir()
		for _, bin := range []string{"xmppd", "invites-plugin"} {
			e := entries[name+"/"+bin]
			if e.hdr == nil {
				continue
			}
			path := writeFile(t, dir, bin, string(e.body))
			if err := os.Chmod(path, 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := elf.Open(path)
			if err != nil {
				t.Fatalf("%s/%s: %v", name, bin, err)
			}
			static := true
			for _, p := range f.Progs {
				static = static && p.Type != elf.PT_INTERP && p.Type != elf.PT_DYNAMIC
			}
			if f.Machine != machine || !static {
				t.Errorf("%s/%s: machine %v, static %v; want %v, static", name, bin, f.Machine, static, machine)
			}
			f.Close()
			if arch != "amd64" || machine != elf.EM_X86_64 || !runsHere() {
				continue
			}
			flag := "--version"
			if bin == "xmppd" {
				flag = "-version"
			}
			got, err := exec.Command(path, flag).Output()
			wantVersion := fmt.Sprintf("%s %s (revision %s, %s) ", bin, version, rev[:12], commitTime.Format(time.RFC3339))
			if err != nil || !strings.HasPrefix(string(got), wantVersion) {
				t.Errorf("%s %s: %q (%v), want %q…", bin, flag, got, err, wantVersion)
			}
		}

		deb := filepath.Join(out, "invites_0.0.0~test.1-1_"+arch+".deb")
		info := run(t, dpkgDeb, "--field", deb, "Package", "Version", "Architecture", "Depends")
		for _, f := range []string{"Package: invites", "Version: 0.0.0~test.1-1", "Architecture: " + arch, "Depends: adduser, init-system-helpers"} {
			if !strings.Contains(info, f) {
				t.Errorf("%s: control lacks %q:\n%s", deb, f, info)
			}
		}
		contents := run(t, dpkgDeb, "--contents", deb)
		for _, f := range []string{"./usr/bin/xmppd", "./usr/bin/invites-plugin", "./usr/sbin/invitesctl",
			"./usr/lib/systemd/system/invites.service", "./etc/invites/xmppd.toml", "./etc/invites/invites.toml",
			"./usr/share/doc/invites/operator.md", "./usr/share/doc/invites/configuration.md", "./usr/share/doc/invites/command-line.md",
			"./usr/share/doc/invites/copyright"} {
			if !strings.Contains(contents, " "+f+"\n") {
				t.Errorf("%s lacks %s:\n%s", deb, f, contents)
			}
		}
		control := t.TempDir()
		run(t, dpkgDeb, "--control", deb, control)
		conffiles, _ := os.ReadFile(filepath.Join(control, "conffiles"))
		if got := strings.Fields(string(conffiles)); !slices.Equal(got, []string{"/etc/invites/invites.toml", "/etc/invites/xmppd.toml"}) &&
			!slices.Equal(got, []string{"/etc/invites/xmppd.toml", "/etc/invites/invites.toml"}) {
			t.Errorf("%s: conffiles %q", deb, got)
		}
		for _, s := range []string{"postinst", "prerm", "postrm"} {
			got, err := os.ReadFile(filepath.Join(control, s))
			if err != nil || string(got) != readFile(t, "deploy/debian/"+s) {
				t.Errorf("%s: maintainer script %s differs from deploy/debian/%s (%v)", deb, s, s, err)
			}
		}
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		run(t, "sh", "-n", filepath.Join(root, "deploy", "debian", s))
	}
}

// runsHere reports whether this machine runs linux/amd64 binaries.
func runsHere() bool {
	out, err := exec.Command("uname", "-m").Output()
	return err == nil && strings.TrimSpace(string(out)) == "x86_64"
}

// tarEntry is one file of a tarball.
type tarEntry struct {
	hdr  *tar.Header
	body []byte
}

// readTarGz reads every entry of a .tar.gz, by name.
func readTarGz(t *testing.T, path string) map[string]tarEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	if !gz.ModTime.IsZero() || gz.Name != "" {
		t.Errorf("%s: gzip header carries a time or a name (%v %q)", path, gz.ModTime, gz.Name)
	}
	out := map[string]tarEntry{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var body bytes.Buffer
		if _, err := io.Copy(&body, tr); err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(h.Name, "/")] = tarEntry{h, body.Bytes()}
	}
}

// run runs a program and returns its standard output, failing the test on an error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// gitOut runs git in dir and returns its output.
func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return run(t, "git", append([]string{"-C", dir}, args...)...)
}

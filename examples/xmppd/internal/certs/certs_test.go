package certs_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/certs"
)

func TestSelfSigned(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Now()
	c1, created, err := certs.SelfSigned(dir, []string{"localhost"}, now)
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	if err := c1.Leaf.VerifyHostname("localhost"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, certs.KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi.Mode(), err)
	}
	c2, created, err := certs.SelfSigned(dir, []string{"localhost"}, now.Add(time.Hour))
	if err != nil || created || !c2.Leaf.Equal(c1.Leaf) {
		t.Fatalf("second start: created=%v err=%v", created, err)
	}
	// Another domain, or near expiry, makes a new one.
	if _, created, _ := certs.SelfSigned(dir, []string{"example.org"}, now); !created {
		t.Fatal("kept a certificate for the wrong domain")
	}
	if _, created, _ := certs.SelfSigned(dir, []string{"example.org"}, now.Add(certs.Lifetime)); !created {
		t.Fatal("kept an expiring certificate")
	}
	// A configured pair loads.
	if _, err := certs.Load(filepath.Join(dir, certs.CertFile), filepath.Join(dir, certs.KeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := certs.Load(filepath.Join(dir, "nope"), filepath.Join(dir, certs.KeyFile)); err == nil {
		t.Fatal("loaded a missing file")
	}
}

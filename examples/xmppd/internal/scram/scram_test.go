package scram_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"testing"

	"mellium.im/sasl"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/scram"
)

// TestRFCExchanges replays the examples of RFC 5802 §5 (SCRAM-SHA-1) and
// RFC 7677 §3 (SCRAM-SHA-256) byte for byte, with the server nonce fixed.
func TestRFCExchanges(t *testing.T) {
	tests := [...]struct {
		mech, salt, cfirst, snonce, sfirst, cfinal, sfinal string
	}{
		0: {
			mech:   scram.SHA1,
			salt:   "QSXCR+Q6sek8bf92",
			cfirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
			snonce: "3rfcNHYJY1ZVvWVs7j",
			sfirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			cfinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			sfinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		1: {
			mech:   scram.SHA256,
			salt:   "W22ZaJ0SNY7soEsUEjb6gQ==",
			cfirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
			snonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
			sfirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			cfinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			sfinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	}
	for i, tc := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			salt, _ := base64.StdEncoding.DecodeString(tc.salt)
			cred, err := scram.Derive(tc.mech, "pencil", salt, 4096)
			if err != nil {
				t.Fatal(err)
			}
			if err := cred.Validate(); err != nil {
				t.Fatal(err)
			}
			if !cred.Verify("pencil") || cred.Verify("pencil2") || cred.Verify("") {
				t.Fatal("Verify gives the wrong answer")
			}
			srv, err := scram.NewServer(func(_ context.Context, user, mech string) (scram.Credential, error) {
				if user != "user" || mech != tc.mech {
					return scram.Credential{}, scram.ErrUnknownUser
				}
				return cred, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			ex, err := srv.Start(tc.mech)
			if err != nil {
				t.Fatal(err)
			}
			scram.SetServerNonce(ex, tc.snonce)
			ctx := context.Background()
			got, done, err := ex.Step(ctx, []byte(tc.cfirst))
			if err != nil || done || string(got) != tc.sfirst {
				t.Fatalf("server-first = %q, %v, %v", got, done, err)
			}
			got, done, err = ex.Step(ctx, []byte(tc.cfinal))
			if err != nil || !done || string(got) != tc.sfinal {
				t.Fatalf("server-final = %q, %v, %v", got, done, err)
			}
			if ex.Username() != "user" {
				t.Fatalf("Username() = %q", ex.Username())
			}
		})
	}
}

func mechFor(name string) sasl.Mechanism {
	if name == scram.SHA1 {
		return sasl.ScramSha1
	}
	return sasl.ScramSha256
}

// TestAgainstMelliumClient runs full exchanges with mellium.im/sasl's client.
func TestAgainstMelliumClient(t *testing.T) {
	stored := map[string]scram.Credential{}
	for _, m := range scram.Mechanisms() {
		c, err := scram.NewCredential(m, "correct horse", 0)
		if err != nil {
			t.Fatal(err)
		}
		stored[m] = c
	}
	srv, err := scram.NewServer(func(_ context.Context, user, mech string) (scram.Credential, error) {
		if user != "alice" {
			return scram.Credential{}, scram.ErrUnknownUser
		}
		return stored[mech], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := [...]struct {
		mech, user, pass string
		ok               bool
	}{
		0: {scram.SHA256, "alice", "correct horse", true},
		1: {scram.SHA1, "alice", "correct horse", true},
		2: {scram.SHA256, "alice", "wrong", false},
		3: {scram.SHA1, "alice", "wrong", false},
		4: {scram.SHA256, "bob", "correct horse", false},
	}
	for i, tc := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			ctx := context.Background()
			client := sasl.NewClient(mechFor(tc.mech), sasl.Credentials(func() ([]byte, []byte, []byte) {
				return []byte(tc.user), []byte(tc.pass), nil
			}))
			ex, err := srv.Start(tc.mech)
			if err != nil {
				t.Fatal(err)
			}
			_, cfirst, err := client.Step(nil)
			if err != nil {
				t.Fatal(err)
			}
			sfirst, _, err := ex.Step(ctx, cfirst)
			if err != nil {
				t.Fatalf("server first step: %v", err)
			}
			_, cfinal, err := client.Step(sfirst)
			if err != nil {
				t.Fatal(err)
			}
			sfinal, done, err := ex.Step(ctx, cfinal)
			if !tc.ok {
				if !errors.Is(err, scram.ErrAuthFailed) || done {
					t.Fatalf("want ErrAuthFailed, got done=%v err=%v", done, err)
				}
				return
			}
			if err != nil || !done {
				t.Fatalf("final step: done=%v err=%v", done, err)
			}
			if _, _, err := client.Step(sfinal); err != nil {
				t.Fatalf("client rejects the server signature: %v", err)
			}
			if _, _, err := ex.Step(ctx, cfinal); !errors.Is(err, scram.ErrDone) {
				t.Fatalf("step after done: %v", err)
			}
		})
	}
}

// TestUnknownUserSalt checks that an unknown user gets a stable salt, like a
// real account would.
func TestUnknownUserSalt(t *testing.T) {
	srv, err := scram.NewServer(func(context.Context, string, string) (scram.Credential, error) {
		return scram.Credential{}, scram.ErrUnknownUser
	})
	if err != nil {
		t.Fatal(err)
	}
	salt := func() string {
		ex, _ := srv.Start(scram.SHA256)
		resp, _, err := ex.Step(context.Background(), []byte("n,,n=ghost,r=abc"))
		if err != nil {
			t.Fatal(err)
		}
		return string(bytes.SplitN(resp, []byte(","), 2)[1])
	}
	if a, b := salt(), salt(); a != b {
		t.Fatalf("salt changes between attempts: %q, %q", a, b)
	}
}

// TestMalformed feeds messages that break RFC 5802 §7.
func TestMalformed(t *testing.T) {
	srv, _ := scram.NewServer(func(context.Context, string, string) (scram.Credential, error) {
		return scram.NewCredential(scram.SHA256, "pw", 0)
	})
	tests := [...]struct {
		msg  string
		want error
	}{
		0: {"", scram.ErrMalformed},
		1: {"n,n=a,r=b", scram.ErrMalformed},
		2: {"x,,n=a,r=b", scram.ErrMalformed},
		3: {"p=tls-exporter,,n=a,r=b", scram.ErrChannelBinding},
		4: {"n,,m=ext,n=a,r=b", scram.ErrMalformed},
		5: {"n,,n=a=2X,r=b", scram.ErrMalformed},
		6: {"n,,n=a", scram.ErrMalformed},
		7: {"n,,n=,r=b", scram.ErrMalformed},
		8: {"n,,r=b,n=a", scram.ErrMalformed},
		9: {"n,b=x,n=a,r=b", scram.ErrMalformed},
	}
	for i, tc := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			ex, _ := srv.Start(scram.SHA256)
			if _, _, err := ex.Step(context.Background(), []byte(tc.msg)); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestSASLNameEscapes checks that escaped names and authzids decode.
func TestSASLNameEscapes(t *testing.T) {
	srv, _ := scram.NewServer(func(_ context.Context, user, _ string) (scram.Credential, error) {
		return scram.NewCredential(scram.SHA256, "pw", 0)
	})
	ex, _ := srv.Start(scram.SHA256)
	if _, _, err := ex.Step(context.Background(), []byte("n,a=a=3Db=2Cc,n=x=2Cy,r=abc")); err != nil {
		t.Fatal(err)
	}
	if ex.Username() != "x,y" || ex.Authzid() != "a=b,c" {
		t.Fatalf("Username %q, Authzid %q", ex.Username(), ex.Authzid())
	}
}

// TestNewCredential checks bounds and that two credentials for one password differ.
func TestNewCredential(t *testing.T) {
	if _, err := scram.NewCredential(scram.SHA256, "", 0); !errors.Is(err, scram.ErrPassword) {
		t.Fatalf("empty password: %v", err)
	}
	if _, err := scram.NewCredential(scram.SHA256, "pw", 10); !errors.Is(err, scram.ErrIterations) {
		t.Fatalf("low iterations: %v", err)
	}
	if _, err := scram.NewCredential("SCRAM-SHA-1-PLUS", "pw", 0); !errors.Is(err, scram.ErrUnknownMechanism) {
		t.Fatalf("-PLUS: %v", err)
	}
	a, _ := scram.NewCredential(scram.SHA256, "pw", 0)
	b, _ := scram.NewCredential(scram.SHA256, "pw", 0)
	if bytes.Equal(a.Salt, b.Salt) || bytes.Equal(a.StoredKey, b.StoredKey) {
		t.Fatal("two credentials share a salt")
	}
	// OpaqueString maps a full-width space to an ASCII one: the same password.
	c, _ := scram.NewCredential(scram.SHA256, "a\u3000b", 0)
	if !c.Verify("a b") {
		t.Fatal("OpaqueString preparation not applied")
	}
}

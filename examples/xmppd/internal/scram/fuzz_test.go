package scram_test

import (
	"context"
	"testing"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/scram"
)

// FuzzExchange sends arbitrary client-first and client-final messages, the input a
// client controls before it is authenticated: the exchange never panics and never
// succeeds, since a proof cannot be guessed.
func FuzzExchange(f *testing.F) {
	f.Add([]byte("n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL"), []byte("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="))
	f.Add([]byte("y,,n=alice,r=abc"), []byte("c=eSws,r=abc,p=AAAA"))
	f.Add([]byte("p=tls-unique,,n=alice,r=abc"), []byte(""))
	f.Add([]byte("n,a=admin,n=al=2Cice,r=abc,m=ext"), []byte("c=biws,r=abc,x=1,p=="))
	f.Add([]byte("n,,n=,r="), []byte("c=,r=,p="))
	f.Add([]byte("n,,n=alice,r=abc"), []byte("c=biws,r=abc"))
	cred, err := scram.NewCredential(scram.SHA256, "pencil", 4096)
	if err != nil {
		f.Fatal(err)
	}
	srv, err := scram.NewServer(func(_ context.Context, user, _ string) (scram.Credential, error) {
		return cred, nil
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, first, final []byte) {
		ex, err := srv.Start(scram.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		_, done, err := ex.Step(t.Context(), first)
		if err != nil || done {
			if done && err == nil {
				t.Fatalf("authenticated on the first message %q", first)
			}
			return
		}
		if _, done, err = ex.Step(t.Context(), final); done && err == nil {
			t.Fatalf("authenticated with a made-up proof: %q, %q", first, final)
		}
	})
}

package plugin

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
)

// BenchmarkGlue measures the glue alone: one call across an in-process go-plugin
// connection (no TLS, no second process) and one HTTP exchange on an in-process data
// path.
func BenchmarkGlue(b *testing.B) {
	impl := &fakeInvites{}
	data := dataPair(b, impl, dataOptions{maxResponseBytes: defaultMaxResponseBytes, timeout: time.Minute, maxConns: defaultMaxConns})
	client, _ := goplugin.TestPluginGRPCConn(b, false, goplugin.PluginSet{pluginName: &invitesPlugin{impl: impl, timeout: time.Minute, data: data}})
	defer func() { _ = client.Close() }()
	raw, err := client.Dispense(pluginName)
	if err != nil {
		b.Fatal(err)
	}
	inv := raw.(Invites)
	ctx := b.Context()
	b.Run("Health", func(b *testing.B) {
		for b.Loop() {
			if err := inv.Health(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CheckPassword", func(b *testing.B) {
		for b.Loop() {
			if err := inv.CheckPassword(ctx, PasswordCheck{Host: "example.com", Username: "alice", Password: "good"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CheckPassword refused", func(b *testing.B) {
		for b.Loop() {
			if _, ok := errors.AsType[*PasswordError](inv.CheckPassword(ctx, PasswordCheck{Password: "common", Lang: "fr"})); !ok {
				b.Fatal("not refused")
			}
		}
	})
	batch := make([]Event, 100)
	for i := range batch {
		batch[i] = Event{ID: fmt.Sprintf("e%d", i), Type: EventLogin, Host: "example.com", JID: "alice@example.com/phone", Lang: "en", At: time.Now()}
	}
	impl.discard = true
	b.Run("Notify 100 events", func(b *testing.B) {
		for b.Loop() {
			if err := inv.Notify(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("HTTP GET", func(b *testing.B) {
		for b.Loop() {
			w := httptest.NewRecorder()
			if err := inv.ServeHTTP(ctx, w, httptest.NewRequest("GET", "/empty", nil)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("HTTP POST", func(b *testing.B) {
		for b.Loop() {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("POST", "/echo", strings.NewReader("username=alice&ttl=3600"))
			if err := inv.ServeHTTP(ctx, w, r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("HTTP POST parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				w := httptest.NewRecorder()
				r := httptest.NewRequest("POST", "/echo", strings.NewReader("username=alice&ttl=3600"))
				if err := inv.ServeHTTP(ctx, w, r); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

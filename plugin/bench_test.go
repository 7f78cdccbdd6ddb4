package plugin_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/xmpp-invites/invites/plugin"
)

// BenchmarkGlue measures the glue alone: one call across an in-process go-plugin
// connection (no TLS, no second process), unary and HTTP.
func BenchmarkGlue(b *testing.B) {
	client, _ := goplugin.TestPluginGRPCConn(b, false, plugin.PluginSet(&plugin.InvitesPlugin{Impl: &fakeInvites{}}))
	defer func() { _ = client.Close() }()
	raw, err := client.Dispense(plugin.Name)
	if err != nil {
		b.Fatal(err)
	}
	inv := raw.(plugin.Invites)
	ctx := b.Context()
	b.Run("Health", func(b *testing.B) {
		for b.Loop() {
			if err := inv.Health(ctx); err != nil {
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
}

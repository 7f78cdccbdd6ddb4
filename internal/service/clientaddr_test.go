package service_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"net/http/httptest"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/service"
	"github.com/xmpp-invites/invites/internal/testlog"
	"github.com/xmpp-invites/invites/plugin"
)

// hostRedeems is the host's HostAPI.Register as xmppd does it: it makes the account,
// then asks the plugin to redeem the invite in a call of its own, under the context of
// the plugin's call (which carries the client's address across the boundary).
type hostRedeems struct{ s *service.Service }

func (h *hostRedeems) AccountExists(context.Context, string) (bool, error) { return false, nil }

func (h *hostRedeems) Register(ctx context.Context, reg plugin.Registration) (string, error) {
	if _, err := h.s.RedeemInvite(ctx, plugin.Redemption{Host: reg.Host, Token: reg.Token, Username: reg.Username}); err != nil {
		return "", err
	}
	return reg.Username + "@" + reg.Host, nil
}

// TestWebRegistrationAuditsClientAddress (issue 21, LOW 11): the audit record of a
// redemption made on the web page carries the client's address, as the page saw it.
func TestWebRegistrationAuditsClientAddress(t *testing.T) {
	dir := t.TempDir()
	ctx := ctxT(t)
	var logs testlog.Buffer
	s := service.New(slog.New(slog.NewTextHandler(&logs, nil)))
	host := &hostRedeems{s: s}
	if _, err := s.Configure(ctx, plugin.Config{DataDir: dir, Domains: []string{"example.com"}, HTTPBaseURL: "https://chat.example.com",
		ConfigTOML: "landing_page = \"builtin\"\n[page]\nfailed_attempt_rate = \"off\"\n"}, host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	c := openCoreHosts(t, dir, "example.com")
	inv, err := c.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: core.Actor{Kind: core.ActorCLI}})
	if err != nil {
		t.Fatal(err)
	}
	csrf := formToken(t, s, ctx, inv.Token)
	form := url.Values{"t": {inv.Token}, "csrf": {csrf}, "username": {"Juliet"}, "password": {"a long enough password"}, "password_confirm": {"a long enough password"}}
	r := httptest.NewRequestWithContext(ctx, "POST", "/register", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = "198.51.100.23:40123"
	if w := serve(t, s, r); w.Code != http.StatusOK {
		t.Fatalf("web registration = %d\n%s", w.Code, w.Body)
	}
	var record string
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "event=invite.redeemed") {
			record = line
		}
	}
	if !strings.Contains(record, "remote=198.51.100.23") || !strings.Contains(record, "jid=juliet@example.com") {
		t.Errorf("the redemption's audit record %q lacks the client address 198.51.100.23", record)
	}
	// Nothing is left behind once the registration is over: a later redemption of
	// another invite by the host alone carries no address.
	other, err := c.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: core.Actor{Kind: core.ActorCLI}})
	if err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	if _, err := s.RedeemInvite(ctx, plugin.Redemption{Host: "example.com", Token: other.Token, Username: "romeo"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "remote=") {
		t.Errorf("an in-band redemption got an address it was not given: %s", logs.String())
	}
}

package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/mail/mailtest"
	"github.com/xmpp-invites/invites/internal/metrics"
	"github.com/xmpp-invites/invites/internal/metrics/metricstest"
	"github.com/xmpp-invites/invites/internal/service"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/plugin"
)

// goHost is a host written in Go with the capabilities of contract version 3: it
// sends messages and changes account states, recording each; it registers nobody.
type goHost struct {
	mu     sync.Mutex
	msgs   []plugin.Message
	states []string
}

var (
	_ plugin.HostAPI      = (*goHost)(nil)
	_ plugin.Messenger    = (*goHost)(nil)
	_ plugin.AccountAdmin = (*goHost)(nil)
)

func (h *goHost) AccountExists(context.Context, string) (bool, error) { return true, nil }

func (h *goHost) Register(context.Context, plugin.Registration) (string, error) {
	return "", errors.New("not in this test")
}

func (h *goHost) SendMessage(_ context.Context, m plugin.Message) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, m)
	return nil
}

func (h *goHost) SetAccountState(_ context.Context, jid string, st plugin.AccountState) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.states = append(h.states, jid+" "+string(st))
	return nil
}

func (h *goHost) DeleteAccount(_ context.Context, jid string) error {
	return h.SetAccountState(context.Background(), jid, plugin.AccountNone)
}

func (h *goHost) AccountState(context.Context, string) (plugin.AccountState, error) {
	return plugin.AccountActive, nil
}

// message waits for a message to `to` whose body contains part, and returns it.
func (h *goHost) message(t *testing.T, to, part string) plugin.Message {
	t.Helper()
	var found *plugin.Message
	waitFor(t, fmt.Sprintf("a message to %s with %q", to, part), func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for i, m := range h.msgs {
			if m.To == to && strings.Contains(m.Body, part) {
				found = &h.msgs[i]
				return true
			}
		}
		return false
	})
	return *found
}

// waitFor polls cond until it holds, for at most 20 seconds (the worker polls the
// outbox every 2 seconds for events other processes write).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// accountsSide writes an account event to the outbox of the store in dir, in a
// transaction of the invite's, as the accounts side (issue 24) does.
func accountsSide(t *testing.T, dir string, e core.Event) {
	t.Helper()
	st, err := store.Open(ctxT(t), filepath.Join(dir, config.StoreFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e.ID = fmt.Sprintf("%016d", time.Now().UnixNano()%1e16)
	e.Time = time.Now().UTC()
	if _, err := st.ChangeInvite(ctxT(t), e.InviteID, func(*core.Invite) (core.InviteChange, error) {
		return core.InviteChange{Events: []core.Event{e}}, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// funnelMetrics reads invites_funnel_total by stage from the plugin's metrics.
func funnelMetrics(t *testing.T, s *service.Service) map[string]float64 {
	t.Helper()
	w := serve(t, s, httptest.NewRequestWithContext(ctxT(t), "GET", plugin.PathMetrics, nil))
	dec := expfmt.NewDecoder(w.Body, expfmt.Format(metrics.ContentType))
	out := map[string]float64{}
	for {
		var f dto.MetricFamily
		if err := dec.Decode(&f); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if f.GetName() != "invites_funnel_total" {
			continue
		}
		for _, st := range core.Stages() {
			out[string(st)] = metricstest.Sum(&f, map[string]string{"stage": string(st)})
		}
	}
	return out
}

// TestHostSinks runs the plugin's delivery against a Go host with messages and
// account states: the inviter told of a registration and of a subscription, the
// welcome at first login in the account's language with the inviter and the groups,
// an approval carried out, a reminder of an invite about to expire, and one invite's
// funnel through every stage, in its JSON and in /metrics.
func TestHostSinks(t *testing.T) {
	dir := t.TempDir()
	ctx := ctxT(t)
	h := &goHost{}
	s := service.New(nil)
	_, err := s.Configure(ctx, plugin.Config{DataDir: dir, Domains: []string{"example.com"}, HTTPBaseURL: "https://chat.example.com",
		Features: []plugin.Feature{plugin.FeatureMessages, plugin.FeatureAccountStates},
		ConfigTOML: `remind_before = "20s"
welcome = "Welcome to example.com!"
[[host]]
domain = "example.com"
landing_page = "builtin"
`}, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	before := funnelMetrics(t, s)
	alice := core.Actor{Kind: core.ActorJID, ID: "alice@example.com"}
	svc := openCore(t, dir, nil)
	if err := svc.SetHosts([]core.HostConfig{{Domain: "example.com", LandingPage: core.LandingBuiltin}}); err != nil {
		t.Fatal(err)
	}
	inv, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: alice, Kind: core.KindContact,
		Inviter: "alice", AllowRegister: true, MaxUses: ptr(3), Groups: []string{"Friends"}})
	if err != nil {
		t.Fatal(err)
	}

	// The funnel's first stages: the page, the registration form, the in-band check.
	if w := serve(t, s, httptest.NewRequestWithContext(ctx, "GET", "/invite?"+inv.Token, nil)); w.Code != 200 {
		t.Fatalf("invite page: %d", w.Code)
	}
	if w := serve(t, s, httptest.NewRequestWithContext(ctx, "GET", "/register?t="+inv.Token, nil)); w.Code != 200 {
		t.Fatalf("register page: %d", w.Code)
	}
	if _, err := s.CheckInvite(ctx, "example.com", inv.Token); err != nil {
		t.Fatal(err)
	}

	// A registration, confirmed by the host once the account is made: the inviter is
	// told, in the host's words.
	if _, err := s.RedeemInvite(ctx, plugin.Redemption{Host: "example.com", Token: inv.Token, Username: "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Notify(ctx, []plugin.Event{{ID: "bob-created", Type: plugin.EventAccountCreated, Host: "example.com",
		JID: "bob@example.com", At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	h.message(t, "alice@example.com", "bob@example.com joined example.com with your invitation.")
	// A subscription by an existing account: told too.
	if _, err := s.RedeemInvite(ctx, plugin.Redemption{Host: "example.com", Token: inv.Token, Username: "carol",
		Purpose: plugin.PurposeSubscribe}); err != nil {
		t.Fatal(err)
	}
	h.message(t, "alice@example.com", "carol@example.com accepted your invitation")

	// Bob's first login, in German, as the host reports it; then the accounts side
	// writes, a week later, that he is still active, and an approval.
	if err := s.Notify(ctx, []plugin.Event{{ID: "bob-login", Type: plugin.EventLogin, Host: "example.com",
		JID: "bob@example.com/phone", Lang: "de", At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	welcome := h.message(t, "bob@example.com", "Welcome to example.com!")
	if welcome.Lang != "de" || welcome.Subject != "Willkommen bei example.com" ||
		!strings.Contains(welcome.Body, "alice@example.com hat dich eingeladen.") ||
		!strings.Contains(welcome.Body, "Du bist in diesen Gruppen: Friends.") {
		t.Errorf("welcome %+v", welcome)
	}
	accountsSide(t, dir, core.Event{Type: core.EventAccountActive, Host: "example.com", JID: "bob@example.com",
		InviteID: inv.ID, Invite: &core.EventInvite{Kind: core.KindContact}})
	accountsSide(t, dir, core.Event{Type: core.EventAccountApproved, Host: "example.com", JID: "dave@example.com",
		InviteID: inv.ID, Actor: core.Actor{Kind: core.ActorCLI}})
	waitFor(t, "dave approved", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return slices.Contains(h.states, "dave@example.com active")
	})

	// The funnel of the invite, every stage counted once.
	want := core.Funnel{PageOpened: 1, RegistrationStarted: 2, AccountCreated: 1, FirstLogin: 1, StillActive: 1}
	waitFor(t, "the funnel", func() bool {
		got, err := svc.Invite(ctx, alice, "example.com", inv.ID)
		return err == nil && got.Funnel == want
	})
	after := funnelMetrics(t, s)
	for st, n := range map[core.Stage]float64{core.StagePageOpened: 1, core.StageRegistrationStarted: 2,
		core.StageAccountCreated: 1, core.StageFirstLogin: 1, core.StageStillActive: 1} {
		if d := after[string(st)] - before[string(st)]; d != n {
			t.Errorf("invites_funnel_total{stage=%q} moved by %v, want %v", st, d, n)
		}
	}

	// A reminder: an invite made 45 seconds ago for a minute is 15 seconds from its
	// expiry, within remind_before.
	old := openCore(t, dir, func() time.Time { return time.Now().Add(-45 * time.Second) })
	soon, err := old.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: alice, TTL: time.Minute, Note: "for Erin"})
	if err != nil {
		t.Fatal(err)
	}
	h.message(t, "alice@example.com", "Your invitation “for Erin” expires on")
	if _, err := s.CheckInvite(ctx, "example.com", soon.Token); err != nil {
		t.Errorf("the reminded invite: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// linkRE finds the invite link of a mail.
var linkRE = regexp.MustCompile(`https://chat\.example\.com/invite\?([A-Za-z0-9_-]{36})\s`)

// TestEmailDelivery sends invites by email through a real relay (STARTTLS, AUTH) from
// the HTTP API: the answer carries no token; the mail's link works on the page; sent
// again, the old link is dead at the page and the new one works; the "not for me"
// link's page revokes the invite with a POST, never on GET.
func TestEmailDelivery(t *testing.T) {
	dir := t.TempDir()
	ctx := ctxT(t)
	relay := mailtest.Start(t)
	rc := relay.Config()
	toml := fmt.Sprintf(`[smtp]
host = %q
port = %d
username = %q
password = %q
from = %q
ca_file = %q
[page]
site_name = "Example Chat"
[[host]]
domain = "example.com"
landing_page = "builtin"
`, rc.Host, rc.Port, rc.Username, rc.Password, rc.From, rc.CAFile)
	s, _ := configure(t, dir, toml, &goHost{}, "example.com")
	svc := openCore(t, dir, nil)
	_, cred, err := svc.CreateKey(ctx, core.KeySpec{Host: "example.com", Name: "portal"})
	if err != nil {
		t.Fatal(err)
	}
	api := func(method, target, form string) (*httptest.ResponseRecorder, map[string]any) {
		t.Helper()
		r := httptest.NewRequestWithContext(ctx, method, target, strings.NewReader(form))
		r.Header.Set("Authorization", "Bearer "+cred)
		r.Header.Set("Accept", "application/json")
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := serve(t, s, r)
		var body map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		return w, body
	}
	page := func(method, target, form string) *httptest.ResponseRecorder {
		t.Helper()
		var rd io.Reader
		if form != "" {
			rd = strings.NewReader(form)
		}
		r := httptest.NewRequestWithContext(ctx, method, target, rd)
		if form != "" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		return serve(t, s, r)
	}
	mailed := func(n int) string {
		t.Helper()
		waitFor(t, fmt.Sprintf("mail %d", n), func() bool { return len(relay.Messages()) >= n })
		msgs := relay.Messages()
		if len(msgs) != n {
			t.Fatalf("%d mails, want %d", len(msgs), n)
		}
		body := strings.ReplaceAll(strings.ReplaceAll(msgs[n-1].Data, "=\r\n", ""), "=3D", "=")
		m := linkRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no link in mail %d:\n%s", n, body)
		}
		return m[1]
	}

	w, body := api("POST", "/invites_api", "email=friend%40example.org")
	id, _ := body["id"].(string)
	if w.Code != 201 || body["token"] != nil || w.Header().Get("Location") != "/invites_api/invites/"+id {
		t.Fatalf("create: %d %s (Location %q)", w.Code, w.Body, w.Header().Get("Location"))
	}
	// A mail's token is recorded in the transaction that marks it sent, a moment after
	// the relay took it: wait for that before following its link.
	sent := func() {
		t.Helper()
		waitFor(t, "the mail recorded sent", func() bool {
			_, body := api("GET", "/invites_api/invites/"+id, "")
			e, _ := body["email"].(map[string]any)
			return e != nil && e["status"] == "sent"
		})
	}
	first := mailed(1)
	sent()
	if w := page("GET", "/invite?"+first, ""); w.Code != 200 {
		t.Errorf("the mailed link: %d", w.Code)
	}

	// Sent again: the first link dies at once, the second mail's works.
	if w, _ := api("POST", "/invites_api/invites/"+id+"/resend", ""); w.Code != 202 {
		t.Fatalf("resend: %d %s", w.Code, w.Body)
	}
	if w := page("GET", "/invite?"+first, ""); w.Code != 404 {
		t.Errorf("the first link after a resend: %d, want 404", w.Code)
	}
	second := mailed(2)
	sent()
	if w := page("GET", "/invite?"+second, ""); w.Code != 200 {
		t.Errorf("the second link: %d", w.Code)
	}

	// "Not for me": the GET shows a form and changes nothing; its POST revokes.
	w = page("GET", "/invite?"+second+"&decline", "")
	m := csrfRE.FindStringSubmatch(w.Body.String())
	if w.Code != 200 || m == nil || !strings.Contains(w.Body.String(), `action="invite?`+second+`&amp;decline"`) {
		t.Fatalf("decline page: %d\n%s", w.Code, w.Body)
	}
	if w := page("GET", "/invite?"+second, ""); w.Code != 200 {
		t.Errorf("the link after the decline page was only shown: %d", w.Code)
	}
	if w := page("POST", "/invite?"+second+"&decline", "csrf=forged"); w.Code != 403 {
		t.Errorf("decline with a forged form: %d", w.Code)
	}
	w = page("POST", "/invite?"+second+"&decline", url.Values{"csrf": {m[1]}}.Encode())
	if w.Code != 200 || !strings.Contains(w.Body.String(), "Invitation withdrawn") {
		t.Fatalf("decline: %d\n%s", w.Code, w.Body)
	}
	if w := page("GET", "/invite?"+second, ""); w.Code != 404 {
		t.Errorf("the link after declining: %d, want 404", w.Code)
	}
	_, body = api("GET", "/invites_api/invites/"+id, "")
	if body["status"] != "revoked" || body["email"].(map[string]any)["address"] != nil {
		t.Errorf("declined invite: %v", body)
	}
	if n := len(relay.Messages()); n != 2 {
		t.Errorf("%d mails in all, want 2", n)
	}
}

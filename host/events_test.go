package host_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/host"
	"github.com/xmpp-invites/invites/internal/testlog"
	"github.com/xmpp-invites/invites/plugin"
)

// adminServer is a host with every optional interface of protocol version 3.
type adminServer struct {
	mu     sync.Mutex
	states map[string]plugin.AccountState
}

func (s *adminServer) AccountExists(_ context.Context, jid string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[jid] != "", nil
}

func (*adminServer) Register(context.Context, plugin.Registration) (string, error) {
	return "", errors.ErrUnsupported
}

func (s *adminServer) SetAccountState(_ context.Context, jid string, st plugin.AccountState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states[jid] = st
	return nil
}

func (s *adminServer) DeleteAccount(_ context.Context, jid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.states, jid)
	return nil
}

func (s *adminServer) AccountState(_ context.Context, jid string) (plugin.AccountState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.states[jid]; ok {
		return st, nil
	}
	return plugin.AccountNone, nil
}

func (*adminServer) SendMessage(context.Context, plugin.Message) error { return nil }

// received returns the IDs of the host events the plugin logged receiving, in order.
func received(logs *testlog.Buffer) []string {
	var ids []string
	for _, line := range logs.Lines(`msg="host event"`) {
		for f := range strings.FieldsSeq(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// metric returns the value of the host metric name{labels} in a scrape of p.
func metric(t *testing.T, p *host.Plugin, name, labels string) string {
	t.Helper()
	srv := httptest.NewServer(p.MetricsHandler())
	defer srv.Close()
	_, body := get(t, srv.Client(), srv.URL)
	want := name + labels + " "
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(line, want); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// testFeatures checks that the features of the host's API reach the plugin.
func testFeatures(t *testing.T, bin string) {
	for _, tc := range []struct {
		api    plugin.HostAPI
		events bool
		want   string
	}{
		{&adminServer{}, true, `"[account-states messages events]"`},
		{server{}, false, "<nil>"},
	} {
		_, logs := load(t, bin, t.TempDir(), func(c *host.Config) {
			c.API, c.Events = tc.api, tc.events
			c.Plugin.Features = []plugin.Feature{"ignored"}
		})
		// The plugin's log lines come on its stderr, after Configure's answer.
		if !waitFor(5*time.Second, func() bool { return len(logs.Lines(`msg="invites plugin configured"`, "host_features="+tc.want)) == 1 }) {
			t.Errorf("%T: the plugin was not told the features %s:\n%s", tc.api, tc.want, logs.Lines(`msg="invites plugin configured"`))
		}
	}
}

// testEvents sends host events to the real plugin: an ended stream's ad-hoc sessions
// end; events sent while the plugin is down wait for it, in order, each delivered once,
// the oldest dropped past the bound and counted; a refused batch is counted and
// logged; Close sends what is queued before it stops the plugin.
func testEvents(t *testing.T, bin string) {
	script, flag := wrapper(t, bin)
	p, logs := load(t, script, t.TempDir(), func(c *host.Config) {
		c.API, c.Events = &adminServer{states: map[string]plugin.AccountState{}}, true
		c.MaxQueuedEvents = 5
		c.MinBackoff, c.MaxBackoff = 100*time.Millisecond, 200*time.Millisecond
	})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	// A stream that ends takes its command sessions with it.
	const requester = "admin@localhost/laptop"
	resp, err := p.Execute(ctx, "localhost", adhoc.Request{Requester: requester, Role: adhoc.RoleAdmin, Node: "urn:xmpp-invites:keys#create"})
	if err != nil || resp.Status != adhoc.StatusExecuting {
		t.Fatalf("opening a command session: %+v, %v", resp, err)
	}
	if err := p.Notify(ctx, plugin.Event{ID: "ended-1", Type: plugin.EventStreamEnded, JID: requester}); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { return slices.Contains(received(logs), "ended-1") }) {
		t.Fatal("the plugin did not get the event")
	}
	_, err = p.Execute(ctx, "localhost", adhoc.Request{Requester: requester, Role: adhoc.RoleAdmin, Node: resp.Node,
		SessionID: resp.SessionID, Action: adhoc.ActionCancel})
	if ae, ok := errors.AsType[*adhoc.Error](err); !ok || ae.Condition != adhoc.CondSessionExpired {
		t.Errorf("the ended stream's session: %v, want session-expired", err)
	}

	// While the plugin is down (killed, and its starts failing), events wait; past
	// MaxQueuedEvents the oldest go.
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	pid := p.PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { return p.PID() == 0 }) {
		t.Fatal("the plugin is not down")
	}
	var want []string
	for i := range 8 {
		id := fmt.Sprintf("down-%d", i)
		if err := p.Notify(ctx, plugin.Event{ID: id, Type: plugin.EventLogin, JID: "alice@localhost/phone", Lang: "fr"}); err != nil {
			t.Fatal(err)
		}
		if i >= 3 {
			want = append(want, id)
		}
	}
	if q, d := metric(t, p, "invites_plugin_events_queued", ""), metric(t, p, "invites_plugin_events_dropped_total", `{reason="queue-full"}`); q != "5" || d != "3" {
		t.Errorf("while down: %s queued, %s dropped; want 5 and 3", q, d)
	}
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	if !waitFor(20*time.Second, func() bool { return len(received(logs)) >= 1+len(want) }) {
		t.Fatalf("after the restart the plugin got %v", received(logs))
	}
	if got := received(logs)[1:]; !slices.Equal(got, want) {
		t.Errorf("after the restart the plugin got %v, want %v once each, in order", got, want)
	}
	// The plugin logs each event before it acts on it; the host counts the batch once
	// the plugin has answered.
	if !waitFor(10*time.Second, func() bool { return metric(t, p, "invites_plugin_events_delivered_total", "") == "6" }) {
		t.Errorf("%s delivered, want 6", metric(t, p, "invites_plugin_events_delivered_total", ""))
	}

	// A batch the plugin refuses is dropped, counted, and logged in its words.
	if err := p.Notify(ctx, plugin.Event{ID: "bad", Type: plugin.EventLogin, Host: "example.org", JID: "a@example.org/r"}); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool {
		return metric(t, p, "invites_plugin_events_dropped_total", `{reason="refused"}`) == "1"
	}) {
		t.Error("the refused batch was not counted")
	}
	if lines := logs.Lines("the invites plugin refused events", `the host \"example.org\" is not served`); len(lines) != 1 {
		t.Errorf("the refusal was not logged in the plugin's words:\n%s", logs)
	}

	// Close sends what is queued first.
	if err := p.Notify(ctx, plugin.Event{ID: "last", Type: plugin.EventAccountCreated, JID: "bob@localhost"}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool { got := received(logs); return got[len(got)-1] == "last" }) {
		t.Errorf("Close did not send the queued event: %v", received(logs))
	}
	if err := p.Notify(ctx, plugin.Event{ID: "late", Type: plugin.EventLogin, JID: "a@localhost/r"}); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("Notify after Close: %v", err)
	}
}

// testCheckPassword checks that the password check passes through the host to the
// real plugin's policy, and that the host refuses while the plugin is down.
func testCheckPassword(t *testing.T, bin string) {
	p, _ := load(t, bin, t.TempDir(), nil)
	ctx := t.Context()
	err := p.CheckPassword(ctx, plugin.PasswordCheck{Host: "localhost", Username: "alice", Password: "12345678", Lang: "fr"})
	pe, ok := errors.AsType[*plugin.PasswordError](err)
	if !ok || !slices.Equal(pe.Rules, []string{"common"}) || !strings.HasPrefix(pe.Reason, "Ce mot de passe est l’un des plus courants") {
		t.Errorf("a common password: %#v", err)
	}
	if err := p.CheckPassword(ctx, plugin.PasswordCheck{Host: "localhost", Username: "alice", Password: "correct horse battery"}); err != nil {
		t.Errorf("a good password: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckPassword(ctx, plugin.PasswordCheck{Host: "localhost", Username: "alice", Password: "correct horse battery"}); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("closed: %v", err)
	}
}

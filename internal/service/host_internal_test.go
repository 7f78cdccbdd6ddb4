package service

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/internal/commands"
	"github.com/xmpp-invites/invites/internal/page"
	"github.com/xmpp-invites/invites/internal/password"
	"github.com/xmpp-invites/invites/plugin"
)

// configured returns a Service configured for example.com with the inline config
// toml, closed when the test ends.
func configured(t *testing.T, toml string) *Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s := New(nil)
	if _, err := s.Configure(ctx, plugin.Config{DataDir: t.TempDir(), Domains: []string{"example.com"}, ConfigTOML: toml}, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// TestCheckPassword checks the in-band password check against the web page's words:
// the same rules ([password]) and the same sentences, in the language asked for (the
// best match of the page's languages, the default else).
func TestCheckPassword(t *testing.T) {
	s := configured(t, "[page]\nlanguages = [\"en\", \"de\", \"fr\"]\n[password]\nmin_length = 8\n")
	words, err := page.NewCatalog([]string{"en", "de", "fr"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	say := func(lang string, rules ...password.Error) string {
		var out []string
		for _, r := range rules {
			out = append(out, words.Translator(lang).PasswordRefusal(&r))
		}
		return strings.Join(out, " ")
	}
	ctx := t.Context()
	for i, tc := range []struct {
		username, password, lang string
		rules                    []string
		reason                   string
	}{
		{"alice", "correct horse battery", "en", nil, ""},
		{"alice", "12345678", "en", []string{"common"}, say("en", password.Error{Rule: password.RuleCommon})},
		{"alice", "        ", "fr", []string{"blank"}, say("fr", password.Error{Rule: password.RuleBlank})},
		{"alice", "my-alice-pw", "de-CH", []string{"username"}, say("de", password.Error{Rule: password.RuleUsername})},
		{"alice", "aaaa", "xx", []string{"too_short", "distinct"},
			say("en", password.Error{Rule: password.RuleTooShort, Min: 8}, password.Error{Rule: password.RuleDistinct, Min: 5})},
	} {
		err := s.CheckPassword(ctx, plugin.PasswordCheck{Host: "example.com", Username: tc.username, Password: tc.password, Lang: tc.lang})
		if tc.rules == nil {
			if err != nil {
				t.Errorf("%d: %v", i, err)
			}
			continue
		}
		pe, ok := errors.AsType[*plugin.PasswordError](err)
		if !ok || !reflect.DeepEqual(pe.Rules, tc.rules) || pe.Reason != tc.reason || !errors.Is(err, plugin.ErrInvalidPassword) {
			t.Errorf("%d: %#v, want rules %v and %q", i, err, tc.rules, tc.reason)
		}
	}
	if err := s.CheckPassword(ctx, plugin.PasswordCheck{Host: "example.org", Username: "alice", Password: "x"}); err == nil ||
		err.Error() != `this plugin does not serve the host "example.org"` {
		t.Errorf("another host: %v", err)
	}
	if err := New(nil).CheckPassword(ctx, plugin.PasswordCheck{Host: "example.com"}); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("unconfigured: %v", err)
	}
}

// TestNotify checks that a batch is checked whole before anything is done, that a
// client stream's end ends its ad-hoc sessions, and that the batch reaches the
// event handler.
func TestNotify(t *testing.T) {
	s := configured(t, "")
	var mu sync.Mutex
	var got []plugin.Event
	handlerErr := error(nil)
	s.mu.Lock()
	s.st.events = func(_ context.Context, events []plugin.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, events...)
		return handlerErr
	}
	s.mu.Unlock()
	ctx := t.Context()
	const requester = "admin@example.com/laptop"
	open := func() string {
		t.Helper()
		resp, err := s.Execute(ctx, "example.com", adhoc.Request{Requester: requester, Role: adhoc.RoleAdmin, Node: commands.NodeCreateKey})
		if err != nil || resp.Status != adhoc.StatusExecuting {
			t.Fatalf("opening a session: %+v, %v", resp, err)
		}
		return resp.SessionID
	}
	step := func(sid string) error {
		_, err := s.Execute(ctx, "example.com", adhoc.Request{Requester: requester, Role: adhoc.RoleAdmin,
			Node: commands.NodeCreateKey, SessionID: sid, Action: adhoc.ActionCancel})
		return err
	}
	sid := open()
	ok := plugin.Event{ID: "1", Type: plugin.EventStreamEnded, Host: "example.com", JID: requester}
	for i, tc := range []struct {
		e    plugin.Event
		want string
	}{
		{plugin.Event{Type: plugin.EventLogin, Host: "example.com", JID: "a@example.com/r"}, "the ID is empty"},
		{plugin.Event{ID: "2", Type: "logout", Host: "example.com", JID: "a@example.com/r"}, `unknown type "logout"`},
		{plugin.Event{ID: "2", Type: plugin.EventLogin, Host: "example.org", JID: "a@example.org/r"}, `the host "example.org" is not served`},
		{plugin.Event{ID: "2", Type: plugin.EventLogin, Host: "example.com", JID: "a@example.com"}, "is not a client's full address"},
		{plugin.Event{ID: "2", Type: plugin.EventAccountCreated, Host: "example.com", JID: "a@example.com/r"}, "is not an account's bare address"},
		{plugin.Event{ID: "2", Type: plugin.EventAccountDeleted, Host: "example.com", JID: "a@example.net"}, "is not on the host example.com"},
		{plugin.Event{ID: "2", Type: plugin.EventAccountDisabled, Host: "example.com", JID: "example.com"}, "is not an account's address"},
	} {
		// The good event first: it must not be acted on either.
		err := s.Notify(ctx, []plugin.Event{ok, tc.e})
		if err == nil || !strings.Contains(err.Error(), "event 2: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d: %v, want %q", i, err, tc.want)
		}
	}
	if err := step(sid); err != nil {
		t.Fatalf("a refused batch ended the session: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("the handler got a refused batch: %+v", got)
	}
	if err := s.Notify(ctx, make([]plugin.Event, maxEventBatch+1)); err == nil || !strings.Contains(err.Error(), "at most 1000") {
		t.Errorf("a batch too large: %v", err)
	}

	sid = open()
	other := open()
	batch := []plugin.Event{
		{ID: "a", Type: plugin.EventLogin, Host: "example.com", JID: "bob@example.com/phone", Lang: "fr", At: time.Now()},
		ok,
		{ID: "b", Type: plugin.EventAccountCreated, Host: "example.com", JID: "bob@example.com"},
	}
	if err := s.Notify(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{sid, other} {
		var ae *adhoc.Error
		if err := step(id); !errors.As(err, &ae) || ae.Condition != adhoc.CondSessionExpired {
			t.Errorf("a session of the ended stream: %v, want session-expired", err)
		}
	}
	if !reflect.DeepEqual(got, batch) {
		t.Errorf("the handler got %+v", got)
	}
	// The handler's failure is the host's answer: unavailable is tried again.
	handlerErr = fmt.Errorf("%w: the store is away", plugin.ErrUnavailable)
	if err := s.Notify(ctx, batch[:1]); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("handler failure: %v", err)
	}
	if err := New(nil).Notify(ctx, batch); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("unconfigured: %v", err)
	}
}

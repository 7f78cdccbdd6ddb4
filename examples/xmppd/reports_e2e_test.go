package main_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/core"
)

// What an invite reports back (issue 25) through xmppd, to accounts logged in with
// slixmpp: the inviter told, the welcome, a reminder, and the funnel.

// funnelRE reads a line of invites_funnel_total in Prometheus's text format.
var funnelRE = regexp.MustCompile(`^invites_funnel_total\{kind="([a-z]*)",stage="([a-z_]+)"\} (\S+)$`)

// funnelMetrics reads invites_funnel_total from xmppd's /metrics, by "kind stage".
func funnelMetrics(t *testing.T, ctx context.Context, s *pageSite) map[string]float64 {
	t.Helper()
	r := s.get(t, ctx, http.MethodGet, "/metrics")
	if r.code != http.StatusOK {
		t.Fatalf("/metrics: %d", r.code)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(r.body))
	for sc.Scan() {
		if m := funnelRE.FindStringSubmatch(sc.Text()); m != nil {
			v, err := strconv.ParseFloat(m[3], 64)
			if err != nil {
				t.Fatal(err)
			}
			out[m[1]+" "+m[2]] = v
		}
	}
	return out
}

// serverMessage is a message from the server, as interop.py reports it.
type serverMessage struct{ From, Type, Subject, Body string }

// TestInteropReports (issue 25): alice (a user) and the administrator, logged in with
// slixmpp, make a contact invite and an account invite in two groups; two new accounts
// register with them in band (slixmpp). Each inviter gets the server's message that
// their invite was used; each new account gets the welcome at its first login, with
// its inviter for the contact invite and its groups for the other; alice gets the
// reminder of an invite of hers that expires soon (its lifetime shortened to 25 s over
// HTTP, remind_before 10 s, the shortest). The account invite's funnel moves through
// every stage — page opened, registration started, account created, first login, and
// still active, which needs a login 7 days after the account was made: the account's
// creation time is moved back 8 days in the plugin's store, then it logs in — in its
// JSON (HTTP and the command line), and invites_funnel_total on xmppd's /metrics moves
// by the same.
func TestInteropReports(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries and Python")
	}
	t.Parallel()
	python := slixmppPython(t)
	const welcome = "Welcome to localhost! Say hello in the lobby."
	s := startPageSite(t, binaries(t), pageSiteOptions{
		config: `allow_user_invites = true
notify_inviter = "all"
welcome = "` + welcome + `"
remind_before = "10s"`,
		users: []string{"admin admin secret", "alice " + pw("alice")}, args: []string{"-admin", "admin@localhost"}})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	manager, err := s.cli.createKey(ctx, "moderators", "--manage")
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.NewClient(s.base()+"/invites_api", manager, s.client)
	if err != nil {
		t.Fatal(err)
	}
	before := funnelMetrics(t, ctx, s)

	// Alice's invite to be reminded of: made with her "Invite a contact", its lifetime
	// then shortened to 25 seconds, so that it expires within remind_before 15
	// seconds after it was made, and lives longer than twice remind_before.
	sess, err := testclient.Login(ctx, s.srv.c2s, "alice", pw("alice"), sasl.ScramSha256)
	if err != nil {
		t.Fatal(err)
	}
	done, err := (commander{sess}).execute(ctx, nodeInvite)
	_ = sess.Close()
	soon := core.TokenID(preauthToken(done.Form.Value("uri")))
	if err != nil || soon == "" {
		t.Fatalf("alice's invite: %+v %v", done, err)
	}
	inv, err := api.Show(ctx, soon)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.Update(ctx, soon, httpapi.Patch{ExpiresAt: inv.CreatedAt.Add(25 * time.Second)}); err != nil {
		t.Fatal(err)
	}

	var out struct {
		ContactToken   string          `json:"contact_token"`
		AccountToken   string          `json:"account_token"`
		PageStatus     int             `json:"page_status"`
		ContactWelcome serverMessage   `json:"contact_welcome"`
		AccountWelcome serverMessage   `json:"account_welcome"`
		UserNotice     serverMessage   `json:"user_notice"`
		AdminNotice    serverMessage   `json:"admin_notice"`
		Reminder       serverMessage   `json:"reminder"`
		UserMessages   []serverMessage `json:"user_messages"`
		AdminMessages  []serverMessage `json:"admin_messages"`
	}
	interop(t, python, s.srv.c2s, &out, "reports", s.base(), "admin", "admin secret", "alice", pw("alice"), "carl", "dora")
	if out.PageStatus != http.StatusOK {
		t.Errorf("the account invite's page: %d", out.PageStatus)
	}
	// The inviters are told, by the server.
	for _, c := range []struct {
		who  string
		got  serverMessage
		want string
	}{
		{"alice (a contact invite)", out.UserNotice, "carl@localhost joined localhost with your invitation."},
		{"the administrator (an account invite)", out.AdminNotice, "dora@localhost joined localhost with your invitation."},
	} {
		if c.got.From != "localhost" || c.got.Body != c.want {
			t.Errorf("%s was told %+v, want %q", c.who, c.got, c.want)
		}
	}
	// The welcomes, at the first logins.
	if w := out.ContactWelcome; w.From != "localhost" || w.Subject != "Welcome to localhost" || w.Body != welcome+"\n\nalice@localhost invited you." {
		t.Errorf("carl's welcome: %+v", w)
	}
	if w := out.AccountWelcome; w.From != "localhost" || w.Subject != "Welcome to localhost" || w.Body != welcome+"\n\nYou are in these groups: Friends, Book club." {
		t.Errorf("dora's welcome: %+v", w)
	}
	// The reminder.
	if r := out.Reminder; r.From != "localhost" || !strings.HasPrefix(r.Body, "Your invitation "+soon+" expires on ") ||
		!strings.HasSuffix(r.Body, " and has not been used yet.") {
		t.Errorf("alice's reminder: %+v", r)
	}
	// Each thing is said once.
	for who, msgs := range map[string][]serverMessage{"alice": out.UserMessages, "the administrator": out.AdminMessages} {
		seen := map[string]bool{}
		for _, m := range msgs {
			if seen[m.Body] {
				t.Errorf("%s was told twice: %q", who, m.Body)
			}
			seen[m.Body] = true
		}
	}

	// Still active: dora logs in again, her account made 8 days ago as the store says
	// (the one thing the test moves: its creation time, back by 8 days).
	id := core.TokenID(out.AccountToken)
	if _, err := s.store.ChangeAccount(ctx, "dora@localhost", func(a *core.Account, _ []core.Hold) (core.AccountChange, error) {
		if a.CreatedAt.IsZero() || a.FirstLogin.IsZero() || a.ActiveNoted {
			return core.AccountChange{}, fmt.Errorf("dora's account as the plugin keeps it: %+v", *a)
		}
		a.CreatedAt = a.CreatedAt.Add(-8 * 24 * time.Hour)
		return core.AccountChange{Write: true}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.login(ctx, "dora", pw("dora")); err != nil {
		t.Fatal(err)
	}
	want := httpapi.Funnel{PageOpened: 1, RegistrationStarted: 1, AccountCreated: 1, FirstLogin: 1, StillActive: 1}
	var got httpapi.Invite
	if !eventually(20*time.Second, func() bool {
		got, err = api.Show(ctx, id)
		return err == nil && got.Funnel != nil && *got.Funnel == want
	}) {
		t.Fatalf("the account invite's funnel over HTTP: %+v %v, want %+v", got.Funnel, err, want)
	}
	if o, err := s.cli.run(ctx, "invites", "show", "localhost", id, "--json"); err != nil ||
		!strings.Contains(o, `"funnel": {`) || !strings.Contains(strings.Join(strings.Fields(o), " "),
		`"funnel": { "page_opened": 1, "registration_started": 1, "account_created": 1, "first_login": 1, "still_active": 1 }`) {
		t.Errorf("invites show --json: %v\n%s", err, o)
	}

	// /metrics: the account invite's stages, and the contact invites' (alice's two:
	// one used by carl, one reminded of).
	after := funnelMetrics(t, ctx, s)
	for key, n := range map[string]float64{
		"account created": 1, "account page_opened": 1, "account registration_started": 1, "account account_created": 1,
		"account first_login": 1, "account still_active": 1,
		"contact created": 2, "contact registration_started": 1, "contact account_created": 1, "contact first_login": 1,
	} {
		if d := after[key] - before[key]; d != n {
			t.Errorf("invites_funnel_total{kind, stage = %s} moved by %v, want %v", key, d, n)
		}
	}
	if t.Failed() {
		t.Logf("/metrics before %v\nafter %v", before, after)
	}
}

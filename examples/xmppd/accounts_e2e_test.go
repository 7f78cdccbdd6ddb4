package main_test

import (
	"context"
	"fmt"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/page"
	"github.com/xmpp-invites/invites/internal/password"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
)

// The host's side of protocol version 3, end to end through xmppd, the plugin and
// slixmpp: the password policy in band, account states and XEP-0133's commands,
// host events, held redemptions and approval.

// The XEP-0133 commands xmppd runs itself.
const (
	nodeDeleteUser   = "http://jabber.org/protocol/admin#delete-user"
	nodeDisableUser  = "http://jabber.org/protocol/admin#disable-user"
	nodeReenableUser = "http://jabber.org/protocol/admin#reenable-user"
)

// hostEvents returns "TYPE JID" of each host event the plugin logged receiving.
func hostEvents(p *proc) []string {
	typeRE := regexp.MustCompile(` type=(\S+)`)
	jidRE := regexp.MustCompile(` jid=(\S+)`)
	var out []string
	for _, line := range p.stderr.Lines(`msg="host event"`) {
		ty, j := typeRE.FindStringSubmatch(line), jidRE.FindStringSubmatch(line)
		if ty != nil && j != nil {
			out = append(out, ty[1]+" "+j[1])
		}
	}
	return out
}

// waitEvent waits until the plugin logged receiving the event "TYPE JID".
func waitEvent(t *testing.T, p *proc, event string) {
	t.Helper()
	if !eventually(10*time.Second, func() bool {
		for _, e := range hostEvents(p) {
			if e == event {
				return true
			}
		}
		return false
	}) {
		t.Errorf("the plugin did not get %q; it got %q", event, hostEvents(p))
	}
}

// TestInteropPasswordPolicy (issue 22): slixmpp registering in band with an invite
// is refused "12345678", eight spaces and a password holding its name, each with
// not-acceptable and the web page's words in the stream's language; a good password
// registers, and the plugin hears of the account (account-created), its login and the
// end of its stream; the redemption's audit record names the client's address.
func TestInteropPasswordPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries and Python")
	}
	python := slixmppPython(t)
	s := startPageSite(t, binaries(t), pageSiteOptions{page: `languages = ["en", "fr"]`})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	_, token := s.invite(t, ctx, httpapi.CreateParams{})
	var out struct {
		Refusals []struct{ Password, Type, Condition, Text string } `json:"refusals"`
		JID      string                                             `json:"jid"`
	}
	interop(t, python, s.srv.c2s, &out, "password-policy", token, "policyuser", "fr")
	words, err := page.NewCatalog([]string{"en", "fr"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fr := words.Translator("fr")
	want := []string{
		fr.PasswordRefusal(&password.Error{Rule: password.RuleCommon}),
		fr.PasswordRefusal(&password.Error{Rule: password.RuleBlank}),
		fr.PasswordRefusal(&password.Error{Rule: password.RuleUsername}),
	}
	if len(out.Refusals) != len(want) {
		t.Fatalf("refusals %+v", out.Refusals)
	}
	for i, r := range out.Refusals {
		if r.Type != "modify" || r.Condition != "not-acceptable" || r.Text != want[i] {
			t.Errorf("%q: %s/%s %q, want modify/not-acceptable %q", r.Password, r.Type, r.Condition, r.Text, want[i])
		}
	}
	if !strings.HasPrefix(out.JID, "policyuser@localhost/") {
		t.Errorf("logged in as %q", out.JID)
	}
	waitEvent(t, s.srv, "account-created policyuser@localhost")
	waitEvent(t, s.srv, "login "+out.JID)
	waitEvent(t, s.srv, "stream-ended "+out.JID)
	if lines := s.srv.stderr.Lines("component=audit", "policyuser", "remote=127.0.0.1:"); len(lines) == 0 {
		t.Errorf("no audit record of the redemption with the client's address:\n%s", strings.Join(s.srv.stderr.Lines("component=audit"), "\n"))
	}
}

// TestAdminAccountCommands: XEP-0133's delete, disable and re-enable user, run by an
// administrator of xmppd: a disabled account's session ends at once and its login is
// refused with account-disabled and the reason, which slixmpp reports; re-enabled, it
// logs in; deleted, it is gone and its name free. Each change reaches the plugin as a
// host event; an ordinary user may not run them; bad addresses change nothing.
func TestAdminAccountCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries and Python")
	}
	python := slixmppPython(t)
	bin := binaries(t)
	s := startPageSite(t, bin, pageSiteOptions{args: []string{"-admin", "admin@localhost"},
		users: []string{"admin admin secret", "carol carol secret", "dave dave secret"}})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	adminSess, err := testclient.Login(ctx, s.srv.c2s, "admin", "admin secret", sasl.ScramSha256)
	if err != nil {
		t.Fatal(err)
	}
	defer adminSess.Close()
	admin := commander{adminSess}
	run := func(node string, jids ...string) (adhoc.Response, error) {
		first, err := admin.execute(ctx, node)
		if err != nil {
			return first, err
		}
		if f, ok := first.Form.Field("accountjids"); !ok || f.Type != adhoc.FieldJIDMulti || !f.Required {
			t.Fatalf("%s: form %+v", node, first.Form)
		}
		return admin.complete(ctx, first, map[string][]string{"FORM_TYPE": {"http://jabber.org/protocol/admin"}, "accountjids": jids})
	}
	notes := func(resp adhoc.Response) string {
		var out []string
		for _, n := range resp.Notes {
			out = append(out, n.Text)
		}
		return strings.Join(out, " | ")
	}

	// Bad addresses, and an administrator, are refused before anything changes.
	for _, jids := range [][]string{{"carol@localhost", "not a jid"}, {"carol@example.org"}, {"admin@localhost"}, {}} {
		resp, err := run(nodeDisableUser, jids...)
		if err == nil && resp.Status == adhoc.StatusCompleted {
			t.Errorf("%q: completed: %s", jids, notes(resp))
		}
	}
	// An ordinary user may not run them.
	carolSess, err := testclient.Login(ctx, s.srv.c2s, "carol", "carol secret", sasl.ScramSha256)
	if err != nil {
		t.Fatalf("carol before anything changed: %v", err)
	}
	if _, err := (commander{carolSess}).execute(ctx, nodeDeleteUser); !iqErrorIs(err, errForbidden) {
		t.Errorf("carol running delete-user: %v", err)
	}

	// Disable: carol's session ends at once; her login is refused saying why.
	raw, err := testclient.Dial(ctx, s.srv.c2s, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Plain("carol", "carol secret", "desk"); err != nil {
		t.Fatal(err)
	}
	resp, err := run(nodeDisableUser, "carol@localhost", "nobody@localhost")
	if err != nil || resp.Status != adhoc.StatusCompleted || notes(resp) != "carol@localhost: disabled. | nobody@localhost: no such account." {
		t.Fatalf("disable: %s, %v", notes(resp), err)
	}
	el, err := raw.Next()
	if err != nil || el.XMLName.Local != "error" || !strings.Contains(el.Inner, "This account was disabled by an administrator.") {
		t.Errorf("carol's open session: %v, %v", el, err)
	}
	var refused struct{ Condition, Text string }
	interop(t, python, s.srv.c2s, &refused, "login-refused", "carol", "carol secret")
	if refused.Condition != "account-disabled" || refused.Text != "This account is disabled by an administrator." {
		t.Errorf("slixmpp's login as disabled carol: %+v", refused)
	}
	interop(t, python, s.srv.c2s, &refused, "login-refused", "carol", "wrong")
	if refused.Condition != "not-authorized" || refused.Text != "" {
		t.Errorf("a wrong password learns more: %+v", refused)
	}
	if resp, _ := run(nodeDisableUser, "carol@localhost"); notes(resp) != "carol@localhost: already disabled." {
		t.Errorf("disable again: %s", notes(resp))
	}
	waitEvent(t, s.srv, "account-disabled carol@localhost")

	// Re-enable: she logs in again.
	if resp, err := run(nodeReenableUser, "carol@localhost"); err != nil || notes(resp) != "carol@localhost: enabled." {
		t.Fatalf("re-enable: %s, %v", notes(resp), err)
	}
	if sess, err := testclient.Login(ctx, s.srv.c2s, "carol", "carol secret", sasl.ScramSha256); err != nil {
		t.Errorf("carol after re-enabling: %v", err)
	} else {
		_ = sess.Close()
	}
	waitEvent(t, s.srv, "account-enabled carol@localhost")

	// Delete: dave is gone, his name free again.
	if resp, err := run(nodeDeleteUser, "dave@localhost"); err != nil || notes(resp) != "dave@localhost: deleted." {
		t.Fatalf("delete: %s, %v", notes(resp), err)
	}
	interop(t, python, s.srv.c2s, &refused, "login-refused", "dave", "dave secret")
	if refused.Condition != "not-authorized" {
		t.Errorf("deleted dave's login: %+v", refused)
	}
	waitEvent(t, s.srv, "account-deleted dave@localhost")
	st, err := accounts.Open(ctx, filepath.Join(s.data, accounts.FileName), accounts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if state, err := st.State(ctx, "dave@localhost"); err != nil || state != accounts.StateNone {
		t.Errorf("dave is %q, %v", state, err)
	}
	addUser(t, bin, s.data, "dave@localhost", "a new dave")
}

// TestInteropApproval (issue 24), on both stores: a host with [accounts] approval =
// "all". slixmpp registers in band with an invite: the registration succeeds, the
// account is pending, and its login is refused with account-disabled and the reason.
// The administrator, logged in with slixmpp, gets the server's message about it, and
// approves it with slixmpp's XEP-0050 client over "Approve new accounts"; the account
// then logs in.
func TestInteropApproval(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries and Python")
	}
	t.Parallel()
	python := slixmppPython(t)
	bin := binaries(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			dsn := ""
			if backend == "postgres" {
				_, dsn = pgtest.Schema(t)
			}
			s := startPageSite(t, bin, pageSiteOptions{dsn: dsn, config: "[accounts]\napproval = \"all\"",
				users: []string{"admin admin secret"}, args: []string{"-admin", "admin@localhost"}})
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			_, token := s.invite(t, ctx, httpapi.CreateParams{})
			type failure struct{ Condition, Text string }
			var out struct {
				Registered   bool
				Instructions string
				Refused      failure
				RefusedAfter []failure `json:"refused_after"`
				Message      struct{ From, Type, Subject, Body string }
				Form         map[string]struct {
					Type    string
					Value   any
					Options []string
				}
				Approve struct {
					Status string
					Notes  [][2]string
				}
				JID string
			}
			interop(t, python, s.srv.c2s, &out, "approval", "admin", "admin secret", token, "penny", pw("penny"))
			const waiting = "This account is waiting for an administrator's approval."
			if !out.Registered || out.Refused != (failure{"account-disabled", waiting}) {
				t.Errorf("registration with approval: registered %v, login refused with %+v", out.Registered, out.Refused)
			}
			// The registration's result says so too (XEP-0077 instructions).
			if out.Instructions != register.TextAwaitsApproval {
				t.Errorf("the registration result's instructions: %q", out.Instructions)
			}
			if out.Message.Subject != "Account waiting for approval" ||
				out.Message.Body != "penny@localhost registered and is waiting for an administrator's approval." {
				t.Errorf("the administrator's message: %+v", out.Message)
			}
			if f := out.Form["accounts"]; f.Type != "list-multi" || !slices.Equal(f.Options, []string{"penny@localhost"}) ||
				!strings.Contains(fmt.Sprint(out.Form["waiting"].Value), "penny@localhost") {
				t.Errorf("the approval form: %+v", out.Form)
			}
			if out.Approve.Status != "completed" || len(out.Approve.Notes) == 0 || out.Approve.Notes[0][1] != "Approved: penny@localhost." {
				t.Errorf("approving: %+v", out.Approve)
			}
			// Until the server has carried the approval out, a login is refused with the
			// same words, never another error.
			for _, f := range out.RefusedAfter {
				if f != (failure{"account-disabled", waiting}) {
					t.Errorf("a login while the approval travels: %+v", f)
				}
			}
			if !strings.HasPrefix(out.JID, "penny@localhost/") {
				t.Errorf("after the approval, logged in as %q", out.JID)
			}
			waitEvent(t, s.srv, "account-created penny@localhost")
			st, err := accounts.Open(ctx, filepath.Join(s.data, accounts.FileName), accounts.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if state, err := st.State(ctx, "penny@localhost"); err != nil || state != accounts.StateActive {
				t.Errorf("penny is %q on the server, %v", state, err)
			}
		})
	}
}

// TestHeldRedemptionKill (issue 21 LOW 8): xmppd killed (SIGKILL, with its plugin)
// while in-band registrations are in flight leaves no invite use spent without an
// account: a use held for a registration that never completed comes back once the
// plugin's hold time passes and the server says the account does not exist, and every
// account made is confirmed. The hold time is the plugin's [accounts] hold_time, 2
// seconds. A kill does not always cut a registration short: the server is killed
// again, up to killRounds times, until one did.
func TestHeldRedemptionKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	t.Parallel()
	bin := binaries(t)
	s := startPageSite(t, bin, pageSiteOptions{config: "[accounts]\nhold_time = \"2s\""})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	const uses, workers, killRounds = 1000, 24, 6
	maxUses := uses
	token := s.coreInvite(t, ctx, core.InviteSpec{Kind: core.KindAccount, MaxUses: &maxUses})
	id := core.TokenID(token)
	st, err := accounts.Open(ctx, filepath.Join(s.data, accounts.FileName), accounts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	exists := func(jid string) bool {
		state, err := st.State(ctx, jid)
		if err != nil {
			t.Fatal(err)
		}
		return state != accounts.StateNone
	}
	admin := core.Actor{Kind: core.ActorCLI, Manage: true}
	counted := func() int {
		inv, err := s.invs.Invite(ctx, admin, "localhost", id)
		if err != nil {
			return -1
		}
		return inv.Uses
	}

	srv := s.srv
	args := srv.cmd.Args[1:]
	made, cut := 0, 0
	var servers []*proc // the servers started again, which resolve the holds
	for round := 0; round < killRounds && cut == 0; round++ {
		if round > 0 {
			srv = startServerEnv(t, bin, filepath.Dir(s.data), nil, args...)
			servers = append(servers, srv)
		}
		// Registrations in flight, from many streams, until xmppd is killed.
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var mu sync.Mutex
		registered := 0
		tried := make([]int, workers) // names held<round>-<w>-<i> tried, i < tried[w]
		name := func(w, i int) string { return fmt.Sprintf("held%d-%d-%d", round, w, i) }
		for w := range workers {
			wg.Go(func() {
				for i := 0; i < uses/killRounds/workers; i++ {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					tried[w] = i + 1
					mu.Unlock()
					el, err := registerWithToken(ctx, srv.c2s, token, name(w, i), "a good pass 42")
					if err == nil && el.Attr("type") == "result" {
						mu.Lock()
						registered++
						mu.Unlock()
					}
				}
			})
		}
		if !eventually(30*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return registered >= 20 }) {
			t.Fatal("registrations did not get going")
		}
		if err := syscall.Kill(-srv.cmd.Process.Pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		<-srv.done // the cleanup's stop sees the process gone

		// What the kill left: the accounts the server made, and the uses the plugin
		// holds for registrations it has not heard the end of; those of this round's
		// names that are no account are the registrations the kill cut short.
		for w := range workers {
			for i := range tried[w] {
				if exists(name(w, i) + "@localhost") {
					made++
				}
			}
		}
		holds, err := s.store.Holds(ctx, time.Now().Add(time.Hour), 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range holds {
			if strings.HasPrefix(h.JID, fmt.Sprintf("held%d-", round)) && !exists(h.JID) {
				cut++
			}
		}
		t.Logf("round %d: killed with %d registrations answered; %d accounts made in all, %d uses held (%d cut short), %d uses counted",
			round+1, registered, made, len(holds), cut, counted())
	}
	if cut == 0 {
		t.Fatalf("in %d rounds no kill cut a registration short: nothing shows the holds released", killRounds)
	}

	// Started again, the server answers the plugin's questions about the holds; the
	// accounts that exist and the uses the plugin counts end up equal, the uses cut
	// short released.
	servers = append(servers, startServerEnv(t, bin, filepath.Dir(s.data), nil, args...))
	if !eventually(60*time.Second, func() bool { return counted() == made }) {
		t.Errorf("%d accounts exist, the invite counts %d uses", made, counted())
	}
	// The plugin logs what it released after the store has it, and the line crosses two
	// processes' logs: it may come a moment after the counts agree.
	releasedRE := regexp.MustCompile(` released=(\d+)`)
	released := 0
	eventually(10*time.Second, func() bool {
		released = 0
		for _, p := range servers {
			for _, l := range p.stderr.Lines(`msg="resolved held registrations"`) {
				if m := releasedRE.FindStringSubmatch(l); m != nil {
					n, _ := strconv.Atoi(m[1])
					released += n
				}
			}
		}
		return released >= cut
	})
	if released < cut {
		t.Errorf("the plugin logged %d held uses released, want at least the %d cut short", released, cut)
	}
}

package core_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// newMailEnv returns a Service that sends email, keeps an outbox of everything, and
// serves example.com with the built-in page and reminders an hour before expiry.
func newMailEnv(t *testing.T) (*core.Service, *sqlite.Store, *clock, *recorder) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{Durability: sqlite.DurabilityCrash})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)}
	rec := &recorder{}
	svc, err := core.NewService(core.Options{Store: st, Now: c.Now, Observer: rec, Mail: true,
		BaseURL: "https://chat.example.com", Outbox: true,
		Hosts: []core.HostConfig{{Domain: "example.com", LandingPage: core.LandingBuiltin, RemindBefore: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	return svc, st, c, rec
}

func TestCheckEmail(t *testing.T) {
	tests := []struct {
		in, want string // want "": refused
	}{
		0:  {"alice@example.org", "alice@example.org"},
		1:  {"Alice.B+tag@Example.ORG", "Alice.B+tag@example.org"},
		2:  {"bob@localhost", "bob@localhost"},
		3:  {"", ""},
		4:  {"alice", ""},
		5:  {"Alice <alice@example.org>", ""},
		6:  {"alice@", ""},
		7:  {"@example.org", ""},
		8:  {"a lice@example.org", ""},
		9:  {"alice@example.org\r\nBcc: x@y", ""},
		10: {strings.Repeat("a", 250) + "@b.cd", ""},
		11: {"alice@example.org.", ""},
	}
	for i, tc := range tests {
		got, err := core.CheckEmail(tc.in)
		switch {
		case tc.want == "" && (err == nil || !errors.Is(err, core.ErrInvalid)):
			t.Errorf("%d: CheckEmail(%q) = %q, %v; want refused", i, tc.in, got, err)
		case tc.want == "":
			if fe := core.FieldErrors(err); len(fe) != 1 || fe[0].Field != core.FieldEmail {
				t.Errorf("%d: refusal %v does not name the email field", i, err)
			}
		case err != nil || got != tc.want:
			t.Errorf("%d: CheckEmail(%q) = %q, %v; want %q", i, tc.in, got, err, tc.want)
		}
	}
}

func TestCheckWelcome(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		0: {in: "Welcome!", want: "Welcome!"},
		1: {in: " Line one\r\nLine two \n", want: "Line one\nLine two"},
		2: {in: strings.Repeat("é", core.MaxWelcomeLen), want: strings.Repeat("é", core.MaxWelcomeLen)},
		3: {in: strings.Repeat("é", core.MaxWelcomeLen+1), bad: true},
		4: {in: "tab\there", bad: true},
		5: {in: "trojan \u202e source", bad: true},
	}
	for i, tc := range tests {
		got, err := core.CheckWelcome(tc.in)
		if tc.bad != (err != nil) || !tc.bad && got != tc.want {
			t.Errorf("%d: CheckWelcome(%q) = %q, %v", i, tc.in, got, err)
		}
	}
}

// TestMailedInvite follows an invite sent by email: created without a usable token,
// its mail prepared with a fresh one (the only copy, linked to the built-in page with
// a "not for me" link), sent again with a token that kills every earlier link, and
// declined by its holder.
func TestMailedInvite(t *testing.T) {
	ctx := t.Context()
	svc, st, _, rec := newMailEnv(t)
	inv, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli, Email: "Someone@Example.NET",
		Welcome: "Hello!", Kind: core.KindContact, Inviter: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Token != "" {
		t.Error("a mailed invite's token was returned")
	}
	mails := rec.of(core.EventInviteEmail)
	if len(mails) != 1 || mails[0].InviteID != inv.ID {
		t.Fatalf("mail events %+v", mails)
	}
	got, err := svc.Invite(ctx, cli, "example.com", inv.ID)
	if err != nil || got.Email != "Someone@example.net" || got.Welcome != "Hello!" || got.Mail.Status != core.MailQueued {
		t.Fatalf("invite %+v, %v", got, err)
	}
	if _, err := svc.PrepareMail(ctx, inv.ID, "another event"); !errors.Is(err, core.ErrMailSuperseded) {
		t.Errorf("PrepareMail of another event = %v", err)
	}
	job, err := svc.PrepareMail(ctx, inv.ID, mails[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if job.Invite.Email != "Someone@example.net" || job.Inviter != "alice@example.com" ||
		job.Link != "https://chat.example.com/invite?"+job.Token || job.DeclineLink != job.Link+"&decline" ||
		core.TokenID(job.Token) != inv.ID {
		t.Errorf("mail job %+v", job)
	}
	// Until the mail is recorded sent, its token is not the invite's.
	if _, err := svc.CheckInvite(ctx, "example.com", job.Token); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("the unsent mail's token works: %v", err)
	}
	// Sent again: a fresh event, a fresh token; the old event's mail is not wanted.
	again, err := svc.ResendInvite(ctx, cli, "example.com", inv.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if again.Email != "Someone@example.net" || again.Mail.Status != core.MailQueued || again.Mail.Event == mails[0].ID {
		t.Errorf("resent %+v", again.Mail)
	}
	if _, err := svc.PrepareMail(ctx, inv.ID, mails[0].ID); !errors.Is(err, core.ErrMailSuperseded) {
		t.Errorf("PrepareMail of the first mail after a resend = %v", err)
	}
	if out, err := st.OutboxEvents(ctx, 10); err != nil || len(out) != 3 {
		t.Errorf("outbox: %d events, %v; want created, two mails", len(out), err)
	}
	// To another address; then without an address it has none left after it ends.
	if _, err := svc.ResendInvite(ctx, cli, "example.com", inv.ID, "not an address"); !errors.Is(err, core.ErrInvalid) {
		t.Errorf("resend to a bad address = %v", err)
	}
	// The holder declines it, with a token that works.
	plain, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DeclineInvite(ctx, "example.com", plain.Token+"x"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("decline with a bad token = %v", err)
	}
	if _, err := svc.DeclineInvite(ctx, "example.com", plain.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CheckInvite(ctx, "example.com", plain.Token); !errors.Is(err, core.ErrRevoked) {
		t.Errorf("a declined invite checks as %v", err)
	}
	if _, err := svc.DeclineInvite(ctx, "example.com", plain.Token); !errors.Is(err, core.ErrRevoked) {
		t.Errorf("declined twice: %v", err)
	}
	revoked := rec.of(core.EventInviteRevoked)
	if len(revoked) != 1 || revoked[0].Reason != "declined" {
		t.Errorf("revocations %+v", revoked)
	}
	if _, err := svc.ResendInvite(ctx, cli, "example.com", plain.ID, "x@example.net"); !errors.Is(err, core.ErrConflict) {
		t.Errorf("resending a revoked invite = %v", err)
	}
}

func TestMailRefused(t *testing.T) {
	ctx := t.Context()
	svc, _, _ := newService(t) // sends no email
	_, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli, Email: "someone@example.net"})
	if fe := core.FieldErrors(err); len(fe) != 1 || fe[0].Field != core.FieldEmail || !strings.Contains(fe[0].Reason, "[smtp]") {
		t.Errorf("email without a relay: %v", err)
	}
	inv, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ResendInvite(ctx, cli, "example.com", inv.ID, "someone@example.net"); !errors.Is(err, core.ErrConflict) {
		t.Errorf("resend without a relay = %v", err)
	}
}

// TestReminders checks that Notice reminds of a long-lived invite once, within the
// window, and not of a short-lived one; and that an invite with no uses expires with
// its address cleared.
func TestReminders(t *testing.T) {
	ctx := t.Context()
	svc, _, c, rec := newMailEnv(t)
	long, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli, TTL: 5 * time.Hour, Email: "a@example.net"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli, TTL: 90 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	for i, step := range []struct {
		advance         time.Duration
		expired, remind int64
	}{
		{0, 0, 0},
		{3*time.Hour + 59*time.Minute, 1, 0}, // 1 h 1 min left; the short one expired
		{2 * time.Minute, 0, 1},              // within the hour
		{10 * time.Minute, 0, 0},             // once only
		{time.Hour, 1, 0},                    // the long one expired
	} {
		c.Add(step.advance)
		expired, reminded, err := svc.Notice(ctx)
		if err != nil || expired != step.expired || reminded != step.remind {
			t.Errorf("%d: Notice = %d expired, %d reminded, %v; want %d, %d", i, expired, reminded, err, step.expired, step.remind)
		}
	}
	if r := rec.of(core.EventInviteExpiring); len(r) != 1 || r[0].InviteID != long.ID {
		t.Errorf("reminders %+v", r)
	}
	got, err := svc.Invite(ctx, cli, "example.com", long.ID)
	if err != nil || got.Email != "" {
		t.Errorf("an expired invite keeps its address: %q, %v", got.Email, err)
	}
}

// TestFunnelCounts checks that counts are kept in memory, shown at once, and written
// by Flush.
func TestFunnelCounts(t *testing.T) {
	ctx := t.Context()
	svc, st, _ := newService(t)
	inv, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		svc.CountFunnel(inv.ID, core.StagePageOpened)
	}
	svc.CountFunnel(inv.ID, core.StageRegistrationStarted)
	want := core.Funnel{PageOpened: 3, RegistrationStarted: 1}
	if got, err := svc.Invite(ctx, cli, "example.com", inv.ID); err != nil || got.Funnel != want {
		t.Errorf("funnel before the flush %+v, %v", got.Funnel, err)
	}
	if d, err := st.InviteDetails(ctx, []string{inv.ID}); err != nil || d[inv.ID].Funnel != (core.Funnel{}) {
		t.Errorf("written before the flush: %+v, %v", d[inv.ID].Funnel, err)
	}
	if err := svc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if d, err := st.InviteDetails(ctx, []string{inv.ID}); err != nil || d[inv.ID].Funnel != want {
		t.Errorf("written %+v, %v", d[inv.ID].Funnel, err)
	}
	if got, err := svc.Invite(ctx, cli, "example.com", inv.ID); err != nil || got.Funnel != want {
		t.Errorf("funnel after the flush %+v, %v (counted twice?)", got.Funnel, err)
	}
}

func TestListExpiringWithin(t *testing.T) {
	ctx := t.Context()
	svc, _, _ := newService(t)
	soon, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli, TTL: 72 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	page, err := svc.ListInvites(ctx, cli, core.InviteQuery{Host: "example.com", ExpiringWithin: 2 * time.Hour})
	if err != nil || len(page.Invites) != 1 || page.Invites[0].ID != soon.ID {
		t.Errorf("expiring within 2 h: %+v, %v", page.Invites, err)
	}
	for i, q := range []core.InviteQuery{
		{Host: "example.com", ExpiringWithin: -time.Hour},
		{Host: "example.com", ExpiringWithin: time.Hour, Status: core.StatusUsed},
	} {
		if _, err := svc.ListInvites(ctx, cli, q); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("%d: ListInvites(%+v) = %v", i, q, err)
		}
	}
}

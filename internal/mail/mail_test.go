package mail_test

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	imail "github.com/xmpp-invites/invites/internal/mail"
	"github.com/xmpp-invites/invites/internal/mail/mailtest"
	"github.com/xmpp-invites/invites/internal/outbox"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// clock is a time source the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a core that mails invites through a worker with the mail sink, over a
// SQLite store, to a real relay.
type fixture struct {
	relay  *mailtest.Server
	store  *sqlite.Store
	core   *core.Service
	worker *outbox.Worker
	clock  *clock
	path   string // the store's file
}

var cli = core.Actor{Kind: core.ActorCLI}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{relay: mailtest.Start(t), clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
	f.path = filepath.Join(t.TempDir(), "invites.db")
	st, err := sqlite.Open(t.Context(), f.path, sqlite.Options{Durability: sqlite.DurabilityCrash})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.store = st
	f.core, err = core.NewService(core.Options{Store: st, Now: f.clock.Now, Mail: true, BaseURL: "https://chat.example.com",
		OutboxWants: func(t core.EventType) bool { return t == core.EventInviteEmail },
		Hosts:       []core.HostConfig{{Domain: "example.com", LandingPage: core.LandingBuiltin}}})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := imail.New(imail.Options{Config: f.relay.Config(), Jobs: f.core, SiteName: "Example Chat", Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.worker, err = outbox.NewWorker(outbox.Options{Store: st, Sinks: []outbox.Sink{sink}, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// run runs the worker once and says how many events it claimed.
func (f *fixture) run(t *testing.T) int {
	t.Helper()
	n, err := f.worker.RunOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) invite(t *testing.T, id string) core.Invite {
	t.Helper()
	inv, err := f.core.Invite(t.Context(), cli, "example.com", id)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// linkToken returns the token of the invite link in a mail's text part.
var linkToken = regexp.MustCompile(`https://chat\.example\.com/invite\?([A-Za-z0-9_-]{36})\s`)

// parts reads a message's text and HTML parts.
func parts(t *testing.T, data string) (*mail.Message, map[string]string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	out := map[string]string{}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out[ct] = string(b)
	}
	return m, out
}

// TestMailSent sends a contact invite through a relay with STARTTLS and AUTH: the
// message is multipart text and HTML in English, German and French, names the
// inviter and the expiry, and carries the only working token, with the "not for me"
// link; the invite records it sent, and the token made with it is dead.
func TestMailSent(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	inv, err := f.core.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli, Kind: core.KindContact,
		Inviter: "alice", Email: "bob@example.net"})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.invite(t, inv.ID); got.Mail.Status != core.MailQueued {
		t.Errorf("before the worker: %+v", got.Mail)
	}
	if n := f.run(t); n != 1 {
		t.Fatalf("worker claimed %d events", n)
	}
	msgs := f.relay.Messages()
	if len(msgs) != 1 {
		t.Fatalf("relay got %d messages", len(msgs))
	}
	m := msgs[0]
	if !m.TLS || m.User != mailtest.Username || m.From != "invites@example.com" || len(m.To) != 1 || m.To[0] != "bob@example.net" {
		t.Errorf("envelope %+v", m)
	}
	hdr, body := parts(t, m.Data)
	if s := hdr.Header.Get("Subject"); s != "Invitation to Example Chat" {
		t.Errorf("Subject %q", s)
	}
	if hdr.Header.Get("Content-Language") != "en, de, fr" || hdr.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("headers %v", hdr.Header)
	}
	text, html := body["text/plain"], body["text/html"]
	for _, want := range []string{"alice@example.com invites you to chat", "alice@example.com lädt dich", "alice@example.com vous invite",
		"&decline", "The invitation expires on"} {
		if !strings.Contains(text+html, want) {
			t.Errorf("the mail lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(html, `<a href="https://chat.example.com/invite?`) || !strings.Contains(html, `lang="de"`) {
		t.Errorf("HTML part:\n%s", html)
	}
	tm := linkToken.FindStringSubmatch(text)
	if tm == nil {
		t.Fatalf("no invite link in:\n%s", text)
	}
	token := tm[1]
	if _, err := f.core.CheckInvite(ctx, "example.com", token); err != nil {
		t.Errorf("the mailed token does not work: %v", err)
	}
	got := f.invite(t, inv.ID)
	if got.Mail.Status != core.MailSent || got.Mail.Error != "" || got.Email != "bob@example.net" {
		t.Errorf("after sending: %+v", got.Mail)
	}
	// The token is nowhere in the store's files.
	for _, name := range []string{f.path, f.path + "-wal"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), token) {
			t.Errorf("the token is stored in clear in %s", filepath.Base(name))
		}
	}
	if f.run(t) != 0 || len(f.relay.Messages()) != 1 {
		t.Error("the mail went out twice")
	}
}

// TestRelayDown sends a mail while the relay is down: the invite stays queued with
// the reason, and once the relay is back (and the backoff has passed) the mail goes
// out exactly once.
func TestRelayDown(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.relay.Stop()
	inv, err := f.core.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli, Email: "carol@example.net"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		f.run(t)
		f.clock.Add(2 * time.Minute)
	}
	got := f.invite(t, inv.ID)
	if got.Mail.Status != core.MailQueued || got.Mail.Error == "" {
		t.Errorf("relay down: %+v", got.Mail)
	}
	log, err := f.store.DeliveryLog(ctx, outbox.LogQuery{Sink: "email"})
	if err != nil || len(log) != 3 || log[0].OK() {
		t.Errorf("delivery log: %+v, %v", log, err)
	}
	f.relay.Restart()
	f.clock.Add(time.Hour)
	for range 3 {
		f.run(t)
		f.clock.Add(time.Hour)
	}
	if n := len(f.relay.Messages()); n != 1 {
		t.Errorf("relay back: %d messages, want 1", n)
	}
	if got := f.invite(t, inv.ID); got.Mail.Status != core.MailSent || got.Mail.Error != "" {
		t.Errorf("relay back: %+v", got.Mail)
	}
	if b, err := f.store.OutboxBacklog(ctx); err != nil || b.Pending != 0 {
		t.Errorf("backlog %+v, %v", b, err)
	}
}

// TestRefused checks a 5xx refusal: failed at once, not retried, the reply kept
// without the address.
func TestRefused(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.relay.Refuse(550, "5.1.1 <nobody@example.net>: mailbox unavailable")
	inv, err := f.core.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli, Email: "nobody@example.net"})
	if err != nil {
		t.Fatal(err)
	}
	f.run(t)
	got := f.invite(t, inv.ID)
	if got.Mail.Status != core.MailFailed || !strings.Contains(got.Mail.Error, "550") ||
		!strings.Contains(got.Mail.Error, "mailbox unavailable") || strings.Contains(got.Mail.Error, "nobody@") {
		t.Errorf("refused: %+v", got.Mail)
	}
	f.clock.Add(time.Hour)
	if n := f.run(t); n != 0 {
		t.Errorf("a refused mail was tried again (%d)", n)
	}
	log, err := f.store.DeliveryLog(ctx, outbox.LogQuery{Sink: "email"})
	if err != nil || len(log) != 1 || log[0].Status != 550 || strings.Contains(log[0].Error, "nobody@") {
		t.Errorf("delivery log %+v, %v", log, err)
	}
}

// TestResend sends an invite, then again: the second mail's link works, the first's
// is dead, and a mail superseded before it went out is never sent.
func TestResend(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	inv, err := f.core.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli, Email: "dave@example.net"})
	if err != nil {
		t.Fatal(err)
	}
	f.run(t)
	// Sent again twice before the worker runs: only the last mail goes.
	for range 2 {
		if _, err := f.core.ResendInvite(ctx, cli, "example.com", inv.ID, ""); err != nil {
			t.Fatal(err)
		}
	}
	f.run(t)
	msgs := f.relay.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	var tokens []string
	for _, m := range msgs {
		_, body := parts(t, m.Data)
		tm := linkToken.FindStringSubmatch(body["text/plain"])
		if tm == nil {
			t.Fatal("no link")
		}
		tokens = append(tokens, tm[1])
	}
	if _, err := f.core.CheckInvite(ctx, "example.com", tokens[0]); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("the first mail's link after a resend: %v", err)
	}
	if _, err := f.core.CheckInvite(ctx, "example.com", tokens[1]); err != nil {
		t.Errorf("the second mail's link: %v", err)
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		c    imail.Config
		port int
		bad  string // a word of the error; "" for none
	}{
		0:  {c: imail.Config{}},
		1:  {c: imail.Config{Host: "smtp.example.org", From: "a@example.org"}, port: 587},
		2:  {c: imail.Config{Host: "smtp.example.org", From: "a@example.org", Security: "tls"}, port: 465},
		3:  {c: imail.Config{Host: "localhost", From: "a@example.org", Security: "none"}, port: 25},
		4:  {c: imail.Config{From: "a@example.org"}, bad: "host is required"},
		5:  {c: imail.Config{Host: "smtp.example.org"}, bad: "from"},
		6:  {c: imail.Config{Host: "smtp.example.org", From: "a@example.org", Security: "ssl"}, bad: "security"},
		7:  {c: imail.Config{Host: "smtp.example.org", From: "a@example.org", Password: "x"}, bad: "username"},
		8:  {c: imail.Config{Host: "smtp.example.org", From: "a@example.org", Username: "u", Password: "x", PasswordFile: "pw"}, bad: "not both"},
		9:  {c: imail.Config{Host: "smtp.example.org", From: "a@example.org", Timeout: core.Duration(time.Hour)}, bad: "timeout"},
		10: {c: imail.Config{Host: "smtp.example.org:25", From: "a@example.org"}, bad: "host"},
	}
	for i, tc := range tests {
		err := tc.c.Normalize()
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("%d: %v", i, err)
		case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("%d: Normalize = %v, want an error about %s", i, err, tc.bad)
		case tc.bad == "" && tc.c.Port != tc.port:
			t.Errorf("%d: port %d, want %d", i, tc.c.Port, tc.port)
		}
	}
	// A password file is read at start; a missing one fails it.
	c := imail.Config{Host: "smtp.example.org", From: "a@example.org", Username: "u", PasswordFile: "missing"}
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	if _, err := imail.New(imail.Options{Config: c, Dir: dir, Jobs: noJobs{}}); err == nil || !strings.Contains(err.Error(), "password_file") {
		t.Errorf("missing password file: %v", err)
	}
	c.PasswordFile = "pw"
	if _, err := imail.New(imail.Options{Config: c, Dir: dir, Jobs: noJobs{}}); err != nil {
		t.Error(err)
	}
}

type noJobs struct{}

func (noJobs) PrepareMail(context.Context, string, string) (core.MailJob, error) {
	return core.MailJob{}, core.ErrMailSuperseded
}

package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/outbox"
	"github.com/xmpp-invites/invites/internal/store"
)

// This file checks what an invite reports back (issue 25): its details (email, mail,
// welcome, funnel), the effects of deliveries, reminders and the list of invites
// expiring soon.

// testDetails checks that a new invite's email, mail and welcome are stored and read by
// InviteDetails only, that a change replaces its token, email and mail, and that the
// address goes when the invite ends: used up, revoked, or expired by the sweep.
func testDetails(t *testing.T, s store.Store) {
	mail := core.Mail{Status: core.MailQueued, At: base, Event: newID(t) + "mail"}
	mk := func(ttl time.Duration) core.Invite {
		inv := newInvite(t, "example.com", ttl)
		inv.Email, inv.Welcome, inv.Mail = "someone@example.net", "Hello!\nWelcome.", mail
		if err := s.CreateInvite(ctx(t), inv, core.InviteWrite{}); err != nil {
			t.Fatal(err)
		}
		return inv
	}
	plain := newInvite(t, "example.com", time.Hour)
	if err := s.CreateInvite(ctx(t), plain, core.InviteWrite{}); err != nil {
		t.Fatal(err)
	}
	a, b, c := mk(time.Hour), mk(time.Hour), mk(time.Minute)
	got, err := s.InviteDetails(ctx(t), []string{a.ID, plain.ID, "nosuchinvite"})
	if err != nil {
		t.Fatal(err)
	}
	if d := got[a.ID]; d.Email != a.Email || d.Welcome != a.Welcome || d.Mail.Status != core.MailQueued ||
		!d.Mail.At.Equal(base) || d.Mail.Event != mail.Event {
		t.Errorf("details of a mailed invite: %+v", d)
	}
	if d, ok := got[plain.ID]; !ok || d != (core.Details{}) {
		t.Errorf("details of a plain invite: %+v, %v", d, ok)
	}
	if _, ok := got["nosuchinvite"]; ok || len(got) != 2 {
		t.Errorf("details of an unknown invite: %v", got)
	}
	if inv, err := s.Invite(ctx(t), a.ID); err != nil || inv.Email != "" || inv.Welcome != "" {
		t.Errorf("Invite reads the details: %+v, %v", inv, err)
	}

	// A change replaces the token, the address and the mail.
	hash := hashOf("a new token")
	email := "other@example.net"
	sent := core.Mail{Status: core.MailSent, At: base.Add(time.Second), Event: "e2"}
	if _, err := s.ChangeInvite(ctx(t), a.ID, func(*core.Invite) (core.InviteChange, error) {
		return core.InviteChange{TokenHash: hash, Email: &email, Mail: &sent}, nil
	}); err != nil {
		t.Fatal(err)
	}
	inv, err := s.Invite(ctx(t), a.ID)
	if err != nil || !bytes.Equal(inv.TokenHash, hash) {
		t.Errorf("token hash after the change: %x, %v", inv.TokenHash, err)
	}
	got, err = s.InviteDetails(ctx(t), []string{a.ID})
	if d := got[a.ID]; err != nil || d.Email != email || d.Mail.Status != core.MailSent || d.Mail.Event != "e2" {
		t.Errorf("details after the change: %+v, %v", d, err)
	}

	// Ending an invite clears its address, however it ends.
	if _, err := s.ChangeInvite(ctx(t), a.ID, func(inv *core.Invite) (core.InviteChange, error) {
		inv.Uses, inv.EndedAt = 1, base.Add(time.Minute)
		return core.InviteChange{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChangeInvite(ctx(t), b.ID, func(inv *core.Invite) (core.InviteChange, error) {
		inv.RevokedAt, inv.EndedAt = base.Add(time.Minute), base.Add(time.Minute)
		return core.InviteChange{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ExpireInvites(ctx(t), base.Add(2*time.Minute), 10, nil); err != nil {
		t.Fatal(err)
	}
	got, err = s.InviteDetails(ctx(t), []string{a.ID, b.ID, c.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a.ID, b.ID, c.ID} {
		if d := got[id]; d.Email != "" || d.Welcome == "" {
			t.Errorf("invite %s ended: address %q, welcome %q", id, d.Email, d.Welcome)
		}
	}
	// An address given to an invite that has ended is not kept.
	if _, err := s.ChangeInvite(ctx(t), a.ID, func(*core.Invite) (core.InviteChange, error) {
		return core.InviteChange{Email: &email}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.InviteDetails(ctx(t), []string{a.ID}); err != nil || got[a.ID].Email != "" {
		t.Errorf("an ended invite took an address: %+v, %v", got[a.ID], err)
	}
}

// testFunnel checks AddFunnel and the funnel effect of a delivery, which is written
// only by the owner of the event's lease.
func testFunnel(t *testing.T, s store.Store) {
	inv := newInvite(t, "example.com", time.Hour)
	ev := core.Event{ID: newID(t) + "ev00", Type: "account.created", Time: base, Host: "example.com", InviteID: inv.ID}
	if err := s.CreateInvite(ctx(t), inv, core.InviteWrite{Events: []core.Event{ev}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddFunnel(ctx(t), []core.FunnelCount{
		{InviteID: inv.ID, Stage: core.StagePageOpened, N: 3},
		{InviteID: inv.ID, Stage: core.StageRegistrationStarted, N: 2},
		{InviteID: inv.ID, Stage: core.StagePageOpened, N: 1},
		{InviteID: inv.ID, Stage: core.StageCreated, N: 9},            // not counted per invite
		{InviteID: "nosuchinvite", Stage: core.StagePageOpened, N: 1}, // dropped
	}); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.Claim(ctx(t), "A", base, time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claimed %d, %v", len(claimed), err)
	}
	effect := func(st core.Stage) []outbox.Effect {
		return []outbox.Effect{{Funnel: &core.FunnelCount{InviteID: inv.ID, Stage: st, N: 1}}}
	}
	// Another owner's outcome changes nothing.
	if err := s.Complete(ctx(t), ev.ID, "B", base, nil, effect(core.StageAccountCreated)); err == nil {
		t.Error("B completed A's event")
	}
	if err := s.Fail(ctx(t), ev.ID, "A", outbox.Failure{Done: []string{"funnel"}, NextAttempt: base,
		Effects: effect(core.StageAccountCreated)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx(t), "A", base, time.Minute, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx(t), ev.ID, "A", base, []outbox.Attempt{{EventID: ev.ID, Type: "account.created",
		Host: "example.com", Sink: "funnel", Endpoint: "funnel", Attempt: 2, At: base}}, effect(core.StageFirstLogin)); err != nil {
		t.Fatal(err)
	}
	got, err := s.InviteDetails(ctx(t), []string{inv.ID})
	if err != nil {
		t.Fatal(err)
	}
	want := core.Funnel{PageOpened: 4, RegistrationStarted: 2, AccountCreated: 1, FirstLogin: 1}
	if got[inv.ID].Funnel != want {
		t.Errorf("funnel %+v, want %+v", got[inv.ID].Funnel, want)
	}
	log, err := s.DeliveryLog(ctx(t), outbox.LogQuery{Sink: "funnel"})
	if err != nil || len(log) != 1 || log[0].Sink != "funnel" {
		t.Errorf("the funnel's log: %+v, %v", log, err)
	}
	if log, err := s.DeliveryLog(ctx(t), outbox.LogQuery{Sink: "webhook"}); err != nil || len(log) != 0 {
		t.Errorf("the webhooks' log: %+v, %v", log, err)
	}
}

// testMailEffect checks the mail effect: recorded only for the mail the invite wants
// (its Mail.Event) while it is pending, giving it the token the mail carries.
func testMailEffect(t *testing.T, s store.Store) {
	inv := newInvite(t, "example.com", time.Hour)
	inv.Email = "someone@example.net"
	ev := core.Event{ID: newID(t) + "mail", Type: core.EventInviteEmail, Time: base, Host: "example.com", InviteID: inv.ID}
	inv.Mail = core.Mail{Status: core.MailQueued, At: base, Event: ev.ID}
	if err := s.CreateInvite(ctx(t), inv, core.InviteWrite{Events: []core.Event{ev}}); err != nil {
		t.Fatal(err)
	}
	settle := func(m core.Mail, hash []byte) {
		t.Helper()
		if _, err := s.Claim(ctx(t), "A", base, time.Minute, 10); err != nil {
			t.Fatal(err)
		}
		effects := []outbox.Effect{{Mail: &outbox.MailOutcome{InviteID: inv.ID, Mail: m, TokenHash: hash}}}
		if err := s.Fail(ctx(t), ev.ID, "A", outbox.Failure{NextAttempt: base, Effects: effects}, nil); err != nil {
			t.Fatal(err)
		}
	}
	read := func() (core.Invite, core.Details) {
		t.Helper()
		got, err := s.Invite(ctx(t), inv.ID)
		if err != nil {
			t.Fatal(err)
		}
		d, err := s.InviteDetails(ctx(t), []string{inv.ID})
		if err != nil {
			t.Fatal(err)
		}
		return got, d[inv.ID]
	}
	// Another mail's outcome (a superseded one) changes nothing.
	settle(core.Mail{Status: core.MailSent, At: base, Event: "another"}, hashOf("other token"))
	if got, d := read(); !bytes.Equal(got.TokenHash, inv.TokenHash) || d.Mail.Status != core.MailQueued {
		t.Errorf("a superseded mail changed the invite: %+v", d.Mail)
	}
	// A failure keeps the token and records the reply.
	settle(core.Mail{Status: core.MailQueued, Error: "421 try later", At: base.Add(time.Second), Event: ev.ID}, nil)
	if got, d := read(); !bytes.Equal(got.TokenHash, inv.TokenHash) || d.Mail.Error != "421 try later" {
		t.Errorf("after a failure: %+v", d.Mail)
	}
	// The mail sent: its token is the invite's.
	hash := hashOf("the mailed token")
	settle(core.Mail{Status: core.MailSent, At: base.Add(2 * time.Second), Event: ev.ID}, hash)
	got, d := read()
	if !bytes.Equal(got.TokenHash, hash) || d.Mail.Status != core.MailSent || d.Mail.Error != "" || !d.Mail.At.Equal(base.Add(2*time.Second)) {
		t.Errorf("after the mail went out: %x %+v", got.TokenHash, d.Mail)
	}
}

// testReminders checks RemindInvites: pending invites of the host expiring within the
// window and living longer than twice it, once each, with their events.
func testReminders(t *testing.T, s store.Store) {
	before := time.Hour
	now := base.Add(47 * time.Hour)
	mk := func(host string, ttl time.Duration, change func(*core.Invite)) string {
		inv := newInvite(t, host, ttl)
		if change != nil {
			change(&inv)
		}
		if err := s.CreateInvite(ctx(t), inv, core.InviteWrite{}); err != nil {
			t.Fatal(err)
		}
		return inv.ID
	}
	due := mk("example.com", 48*time.Hour, nil)                                                     // expires in 1 h
	mk("example.com", 49*time.Hour, nil)                                                            // in 2 h: not yet
	mk("example.com", 47*time.Hour, nil)                                                            // expired
	mk("example.org", 48*time.Hour, nil)                                                            // another host
	mk("example.com", 48*time.Hour, func(inv *core.Invite) { inv.Uses = 1 })                        // used up
	mk("example.com", 48*time.Hour, func(inv *core.Invite) { inv.RevokedAt = base })                // revoked
	mk("example.com", 48*time.Hour, func(inv *core.Invite) { inv.CreatedAt = now.Add(-time.Hour) }) // short-lived
	var events []core.Event
	mkEvent := func(inv core.Invite) core.Event {
		e := core.Event{ID: newID(t) + "rem0", Type: core.EventInviteExpiring, Time: now, Host: inv.Host, InviteID: inv.ID}
		events = append(events, e)
		return e
	}
	q := core.ReminderQuery{Host: "example.com", Now: now, Before: before, Limit: 10}
	got, err := s.RemindInvites(ctx(t), q, mkEvent)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != due {
		t.Fatalf("reminded of %d invites, want %s", len(got), due)
	}
	out, err := s.OutboxEvents(ctx(t), 10)
	if err != nil || len(out) != 1 || out[0].ID != events[0].ID {
		t.Errorf("outbox %v, %v; want the reminder", out, err)
	}
	if again, err := s.RemindInvites(ctx(t), q, mkEvent); err != nil || len(again) != 0 {
		t.Errorf("reminded again: %d, %v", len(again), err)
	}
}

// testListExpiring checks the list filter of invites expiring before a time.
func testListExpiring(t *testing.T, s store.Store) {
	var soon []string
	for i, ttl := range []time.Duration{time.Hour, 3 * time.Hour, 30 * time.Minute, 5 * time.Hour} {
		inv := newInvite(t, "example.com", ttl)
		inv.CreatedAt = base.Add(time.Duration(i) * time.Second)
		if err := s.CreateInvite(ctx(t), inv, core.InviteWrite{}); err != nil {
			t.Fatal(err)
		}
		if ttl <= 2*time.Hour {
			soon = append(soon, inv.ID)
		}
	}
	got, err := s.ListInvites(ctx(t), core.InviteFilter{Host: "example.com", Status: core.StatusPending,
		Now: base, ExpiresBefore: base.Add(2 * time.Hour), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, inv := range got {
		ids = append(ids, inv.ID)
	}
	slices.Reverse(ids) // newest first
	if !slices.Equal(ids, soon) {
		t.Errorf("expiring within 2 h: %v, want %v", ids, soon)
	}
}

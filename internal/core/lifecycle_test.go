package core_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// recorder keeps the events an observer sees.
type recorder struct {
	mu     sync.Mutex
	events []core.Event
}

func (r *recorder) Observe(_ context.Context, e core.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) of(t core.EventType) []core.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []core.Event
	for _, e := range r.events {
		if e.Type == t {
			out = append(out, e)
		}
	}
	return out
}

func intp(n int) *int { return &n }

func ptr[T any](v T) *T { return &v }

func TestInviteCheck(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	base := core.Invite{Host: "example.com", Kind: core.KindAccount, MaxUses: 1, ExpiresAt: now.Add(time.Hour)}
	with := func(f func(*core.Invite)) core.Invite {
		inv := base
		f(&inv)
		return inv
	}
	tests := []struct {
		inv     core.Invite
		purpose core.Purpose
		name    string
		host    string
		want    error
	}{
		0:  {inv: base, name: "alice"},
		1:  {inv: base, purpose: core.PurposeRegister, name: "alice"},
		2:  {inv: base, name: "alice", host: "example.org", want: core.ErrNotFound},
		3:  {inv: with(func(i *core.Invite) { i.RevokedAt = now; i.Uses = 1 }), name: "alice", want: core.ErrRevoked},
		4:  {inv: with(func(i *core.Invite) { i.Uses = 1; i.ExpiresAt = now }), name: "alice", want: core.ErrUsedUp},
		5:  {inv: with(func(i *core.Invite) { i.ExpiresAt = now }), name: "alice", want: core.ErrExpired},
		6:  {inv: with(func(i *core.Invite) { i.MaxUses = 0; i.Uses = 1000 }), name: "alice"},
		7:  {inv: with(func(i *core.Invite) { i.Username = "bob" }), name: "alice", want: core.ErrForbidden},
		8:  {inv: with(func(i *core.Invite) { i.Username = "bob" }), name: "bob"},
		9:  {inv: base, purpose: core.PurposeSubscribe, name: "alice", want: core.ErrForbidden},
		10: {inv: base, purpose: core.PurposeReset, name: "alice", want: core.ErrForbidden},
		11: {inv: base, purpose: "bogus", name: "alice", want: core.ErrForbidden},
		12: {inv: with(func(i *core.Invite) { i.Kind, i.Inviter = core.KindContact, "carol" }), purpose: core.PurposeSubscribe, name: "alice"},
		13: {inv: with(func(i *core.Invite) { i.Kind, i.Inviter = core.KindContact, "carol" }), purpose: core.PurposeSubscribe, name: "carol", want: core.ErrForbidden},
		14: {inv: with(func(i *core.Invite) { i.Kind, i.Inviter = core.KindContact, "carol" }), name: "alice", want: core.ErrForbidden},
		15: {inv: with(func(i *core.Invite) { i.Kind, i.Inviter, i.AllowRegister = core.KindContact, "carol", true }), name: "alice"},
		16: {inv: with(func(i *core.Invite) { i.Kind, i.Username = core.KindReset, "dave" }), purpose: core.PurposeReset, name: "dave"},
		17: {inv: with(func(i *core.Invite) { i.Kind, i.Username = core.KindReset, "dave" }), purpose: core.PurposeReset, name: "eve", want: core.ErrForbidden},
		18: {inv: with(func(i *core.Invite) { i.Kind, i.Username = core.KindReset, "dave" }), name: "dave", want: core.ErrForbidden},
		19: {inv: with(func(i *core.Invite) { i.Kind = core.KindReset }), purpose: core.PurposeReset, name: "", want: core.ErrForbidden},
	}
	for i, tc := range tests {
		host := tc.host
		if host == "" {
			host = "example.com"
		}
		if err := tc.inv.Check(tc.purpose, tc.name, host, now); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%d: Check = %v, want %v", i, err, tc.want)
		}
	}
}

func TestInviteStatus(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		inv  core.Invite
		want core.Status
	}{
		0: {core.Invite{MaxUses: 1, ExpiresAt: now.Add(time.Second)}, core.StatusPending},
		1: {core.Invite{MaxUses: 1, Uses: 1, ExpiresAt: now.Add(time.Second)}, core.StatusUsed},
		2: {core.Invite{MaxUses: 2, Uses: 1, ExpiresAt: now}, core.StatusExpired},
		3: {core.Invite{MaxUses: 1, Uses: 1, ExpiresAt: now}, core.StatusUsed},
		4: {core.Invite{MaxUses: 1, Uses: 1, ExpiresAt: now, RevokedAt: now}, core.StatusRevoked},
		5: {core.Invite{MaxUses: 0, Uses: 50, ExpiresAt: now.Add(time.Hour)}, core.StatusPending},
	}
	for i, tc := range tests {
		if got := tc.inv.Status(now); got != tc.want {
			t.Errorf("%d: Status = %s, want %s", i, got, tc.want)
		}
		// What stores select by (Status.Where) is the same rule: an invite is in the
		// state and passes the expiry test of its status, and of no other status.
		for _, st := range []core.Status{core.StatusPending, core.StatusUsed, core.StatusExpired, core.StatusRevoked} {
			state, expiry := st.Where()
			in := tc.inv.State() == state
			switch expiry {
			case core.NotExpired:
				in = in && tc.inv.ExpiresAt.After(now)
			case core.HasExpired:
				in = in && !tc.inv.ExpiresAt.After(now)
			}
			if in != (st == tc.want) {
				t.Errorf("%d: Where(%s) selects it: %v, but its status is %s", i, st, in, tc.want)
			}
		}
	}
	for i, tc := range []struct {
		in   string
		want core.Status
		err  bool
	}{{"", "", false}, {"all", "", false}, {"Pending", core.StatusPending, false}, {" used ", core.StatusUsed, false}, {"gone", "", true}} {
		got, err := core.ParseStatus(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%d: ParseStatus(%q) = %q, %v", i, tc.in, got, err)
		}
	}
}

func TestCreateInviteValidation(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	admin := core.Actor{Kind: core.ActorJID, ID: "admin@example.com", Manage: true}
	user := core.Actor{Kind: core.ActorJID, ID: "user@example.com"}
	tests := []struct {
		spec core.InviteSpec
		want error // nil: created
	}{
		0:  {spec: core.InviteSpec{Note: strings.Repeat("é", core.MaxNoteLen)}},
		1:  {spec: core.InviteSpec{Note: strings.Repeat("é", core.MaxNoteLen+1)}, want: core.ErrInvalid},
		2:  {spec: core.InviteSpec{Note: "two\nlines"}, want: core.ErrInvalid},
		3:  {spec: core.InviteSpec{Note: "trojan \u202e source"}, want: core.ErrInvalid},
		4:  {spec: core.InviteSpec{Note: "isolate \u2067 x"}, want: core.ErrInvalid},
		5:  {spec: core.InviteSpec{Note: "line \u2028 sep"}, want: core.ErrInvalid},
		6:  {spec: core.InviteSpec{Note: "bad \xff utf-8"}, want: core.ErrInvalid},
		7:  {spec: core.InviteSpec{Groups: []string{"choir", "Friends & Family"}}},
		8:  {spec: core.InviteSpec{Groups: []string{"choir", "choir"}}, want: core.ErrInvalid},
		9:  {spec: core.InviteSpec{Groups: []string{""}}, want: core.ErrInvalid},
		10: {spec: core.InviteSpec{Groups: []string{" padded"}}, want: core.ErrInvalid},
		11: {spec: core.InviteSpec{Groups: []string{"rlo\u202egroup"}}, want: core.ErrInvalid},
		12: {spec: core.InviteSpec{Groups: []string{strings.Repeat("g", core.MaxGroupLen+1)}}, want: core.ErrInvalid},
		13: {spec: core.InviteSpec{Groups: make([]string, core.MaxGroups+1)}, want: core.ErrInvalid},
		14: {spec: core.InviteSpec{MaxUses: intp(0)}},
		15: {spec: core.InviteSpec{MaxUses: intp(-1)}, want: core.ErrInvalid},
		16: {spec: core.InviteSpec{MaxUses: intp(core.MaxMaxUses + 1)}, want: core.ErrInvalid},
		17: {spec: core.InviteSpec{Kind: core.KindReset, Username: "dave", Actor: admin}},
		18: {spec: core.InviteSpec{Kind: core.KindReset, Username: "dave", Actor: user}, want: core.ErrForbidden},
		19: {spec: core.InviteSpec{Kind: core.KindReset, Actor: admin}, want: core.ErrInvalid},
		20: {spec: core.InviteSpec{Kind: core.KindReset, Username: "dave", MaxUses: intp(2), Actor: admin}, want: core.ErrInvalid},
		21: {spec: core.InviteSpec{TTL: time.Nanosecond}, want: core.ErrInvalid},
		22: {spec: core.InviteSpec{Kind: "bogus"}, want: core.ErrInvalid},
	}
	for i, tc := range tests {
		tc.spec.Host = "example.com"
		inv, err := e.svc.CreateInvite(ctx, tc.spec)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%d: CreateInvite = %v, want %v", i, err, tc.want)
			continue
		}
		if err != nil {
			if strings.HasPrefix(err.Error(), "core:") {
				t.Errorf("%d: error %q has a package prefix", i, err)
			}
			continue
		}
		got, err := e.svc.Invite(ctx, cli, "example.com", inv.ID)
		if err != nil || got.Note != tc.spec.Note || len(got.Groups) != len(tc.spec.Groups) {
			t.Errorf("%d: stored %+v, %v", i, got, err)
		}
	}
	// The ttl=1ns message says what is allowed, in words, and names its field.
	_, err := e.svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", TTL: time.Nanosecond})
	if err == nil || err.Error() != "ttl: a lifetime of less than a second is too short: invites live at least 1 minute" {
		t.Errorf("ttl=1ns: %v", err)
	}
	_, err = e.svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", TTL: 100 * 24 * time.Hour})
	if err == nil || err.Error() != "ttl: a lifetime of 100 days is longer than the maximum of 90 days" {
		t.Errorf("ttl=100d: %v", err)
	}
}

// TestRefusalsNameTheirFields checks that every refusal of a request is a value naming
// its field, and that all the refusals of one request are returned, not only the first.
func TestRefusalsNameTheirFields(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	admin := core.Actor{Kind: core.ActorJID, ID: "admin@example.com", Manage: true}
	user := core.Actor{Kind: core.ActorJID, ID: "user@example.com"}
	bad := errors.Join(&core.FieldError{Err: core.ErrInvalid, Field: core.FieldTTL, Reason: "not a duration"})
	tests := []struct {
		spec   core.InviteSpec
		fields []string
	}{
		0:  {core.InviteSpec{TTL: 100 * 24 * time.Hour}, []string{"ttl"}},
		1:  {core.InviteSpec{TTL: time.Second}, []string{"ttl"}},
		2:  {core.InviteSpec{Note: "a\x07b"}, []string{"note"}},
		3:  {core.InviteSpec{Username: "a b"}, []string{"username"}},
		4:  {core.InviteSpec{Groups: []string{"x", "x", " y"}}, []string{"group", "group"}},
		5:  {core.InviteSpec{MaxUses: intp(-1)}, []string{"max_uses"}},
		6:  {core.InviteSpec{Username: "alice", MaxUses: intp(3)}, []string{"max_uses"}},
		7:  {core.InviteSpec{Username: "alice", MaxUses: intp(0)}, []string{"max_uses"}},
		8:  {core.InviteSpec{Kind: core.KindReset, Actor: user}, []string{"kind", "username"}},
		9:  {core.InviteSpec{Kind: core.KindReset, Username: "dave", MaxUses: intp(2), Actor: admin}, []string{"max_uses"}},
		10: {core.InviteSpec{Kind: "bogus"}, []string{"kind"}},
		11: {core.InviteSpec{Kind: core.KindContact, Inviter: "a b"}, []string{"inviter"}},
		// Everything wrong at once: each refusal, in the order of the fields.
		12: {core.InviteSpec{TTL: 100 * 24 * time.Hour, MaxUses: intp(2), Username: "alice", Note: "\u202e", Groups: []string{""}},
			[]string{"ttl", "max_uses", "note", "group"}},
		// The caller's own refusals come first, with the core's.
		13: {core.InviteSpec{Refused: bad, Note: "\n"}, []string{"ttl", "note"}},
		14: {core.InviteSpec{Refused: bad}, []string{"ttl"}},
	}
	for i, tc := range tests {
		tc.spec.Host = "example.com"
		_, err := e.svc.CreateInvite(ctx, tc.spec)
		var got []string
		for _, fe := range core.FieldErrors(err) {
			got = append(got, fe.Field)
			if fe.Reason == "" || strings.HasPrefix(fe.Reason, fe.Field+":") {
				t.Errorf("%d: reason %q is empty or repeats its field", i, fe.Reason)
			}
		}
		if !slices.Equal(got, tc.fields) {
			t.Errorf("%d: CreateInvite = %v: fields %q, want %q", i, err, got, tc.fields)
		}
	}
	page, err := e.svc.ListInvites(ctx, cli, core.InviteQuery{Host: "example.com"})
	if err != nil || len(page.Invites) != 0 {
		t.Errorf("refused requests stored %d invites (%v)", len(page.Invites), err)
	}

	// The same for a change: the patch's own refusals and the invite's.
	inv, err := e.svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Username: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	past := inv.CreatedAt.Add(-time.Hour)
	_, err = e.svc.UpdateInvite(ctx, cli, "example.com", inv.ID, core.InvitePatch{ExpiresAt: &past, MaxUses: intp(5), Note: ptr("\x00")})
	var got []string
	for _, fe := range core.FieldErrors(err) {
		got = append(got, fe.Field)
	}
	if want := []string{"note", "expires_at", "max_uses"}; !slices.Equal(got, want) || !errors.Is(err, core.ErrInvalid) {
		t.Errorf("UpdateInvite = %v: fields %q, want %q", err, got, want)
	}
	patch, perr := core.ParseInvitePatch([]byte(`{"max_uses":"two","expires_at":null,"color":1,"note":"ok"}`))
	patch.Refused = perr
	_, err = e.svc.UpdateInvite(ctx, cli, "example.com", inv.ID, patch)
	got = got[:0]
	for _, fe := range core.FieldErrors(err) {
		got = append(got, fe.Field)
	}
	if want := []string{"color", "expires_at", "max_uses"}; !slices.Equal(got, want) {
		t.Errorf("UpdateInvite(parsed patch) = %v: fields %q, want %q", err, got, want)
	}
	if after, _ := e.svc.Invite(ctx, cli, "example.com", inv.ID); after.Note != "" || after.MaxUses != 1 {
		t.Errorf("a refused change changed the invite: %+v", after)
	}
}

func TestEvents(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	svc, err := core.NewService(core.Options{Store: e.store, Hosts: []core.HostConfig{{Domain: "example.com"}}, Now: e.clock.Now, Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	admin := core.Actor{Kind: core.ActorJID, ID: "admin@example.com", Remote: "198.51.100.7", Manage: true}
	k, cred, err := svc.CreateKey(ctx, core.KeySpec{Host: "example.com", Actor: admin})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := svc.CreateKeyInvite(ctx, k, core.InviteSpec{Actor: core.Actor{Remote: "203.0.113.9"}, Note: "n"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: "alice", Remote: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: "bob"}); !errors.Is(err, core.ErrUsedUp) {
		t.Fatal(err)
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: "garbage", Username: "bob"}); !errors.Is(err, core.ErrNotFound) {
		t.Fatal(err)
	}
	if err := svc.DeleteKey(ctx, admin, "example.com", k.ID); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		typ    core.EventType
		n      int
		actor  core.ActorKind
		id     string
		remote string
	}{
		{core.EventKeyCreated, 1, core.ActorJID, "admin@example.com", "198.51.100.7"},
		{core.EventInviteCreated, 1, core.ActorKey, k.ID, "203.0.113.9"},
		{core.EventInviteRedeemed, 1, core.ActorJID, "alice@example.com", "192.0.2.1"},
		{core.EventInviteRefused, 2, core.ActorJID, "bob@example.com", ""},
		{core.EventKeyDeleted, 1, core.ActorJID, "admin@example.com", "198.51.100.7"},
	}
	for _, c := range checks {
		evs := rec.of(c.typ)
		if len(evs) != c.n {
			t.Errorf("%s: %d events, want %d", c.typ, len(evs), c.n)
			continue
		}
		ev := evs[0]
		if ev.Actor.Kind != c.actor || ev.Actor.ID != c.id || ev.Actor.Remote != c.remote || ev.Host != "example.com" || len(ev.ID) != core.EventIDLen {
			t.Errorf("%s: %+v", c.typ, ev)
		}
	}
	refused := rec.of(core.EventInviteRefused)
	if len(refused) == 2 && (refused[0].Reason != "used-up" || refused[0].InviteID != inv.ID || refused[1].Reason != "not-found") {
		t.Errorf("refusals %+v", refused)
	}
	// No event carries a secret.
	for _, ev := range rec.events {
		s := strings.Join([]string{ev.ID, ev.KeyID, ev.InviteID, ev.Reason, ev.JID}, " ")
		if _, secret, _ := strings.Cut(cred, "/"); strings.Contains(s, secret) || strings.Contains(s, inv.Token) {
			t.Errorf("event %+v holds a secret", ev)
		}
	}
}

func TestQuota(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	user := core.Actor{Kind: core.ActorJID, ID: "user@example.com", Quota: &core.Quota{Invites: 3, Period: 24 * time.Hour, Outstanding: 2}}
	mk := func() error {
		_, err := e.svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Kind: core.KindContact, Inviter: "user", Actor: user})
		return err
	}
	for i := range 2 {
		if err := mk(); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
	}
	if err := mk(); !errors.Is(err, core.ErrQuota) {
		t.Fatalf("third outstanding invite = %v, want ErrQuota", err)
	}
	page, err := e.svc.ListInvites(ctx, user, core.InviteQuery{Host: "example.com"})
	if err != nil || len(page.Invites) != 2 {
		t.Fatalf("user's list = %+v, %v", page, err)
	}
	if _, err := e.svc.RevokeInvite(ctx, user, "example.com", page.Invites[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := mk(); err != nil {
		t.Fatalf("after a revocation: %v", err)
	}
	if _, err := e.svc.RevokeInvite(ctx, user, "example.com", page.Invites[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := mk(); !errors.Is(err, core.ErrQuota) {
		t.Fatalf("fourth invite in a day = %v, want ErrQuota", err)
	}
	e.clock.Add(25 * time.Hour)
	if err := mk(); err != nil {
		t.Fatalf("the next day: %v", err)
	}
	// Another user's invites are not theirs to see.
	other := core.Actor{Kind: core.ActorJID, ID: "other@example.com"}
	if page, err := e.svc.ListInvites(ctx, other, core.InviteQuery{Host: "example.com"}); err != nil || len(page.Invites) != 0 {
		t.Fatalf("other user's list = %+v, %v", page, err)
	}
	if page, err := e.svc.ListInvites(ctx, other, core.InviteQuery{Host: "example.com", CreatedBy: user.CreatedBy()}); err != nil || len(page.Invites) != 0 {
		t.Fatalf("other user asking for user's list = %+v, %v", page, err)
	}
}

// TestQuotaRevival (issue 21, LOW 1): a user cannot beat user_quota.outstanding by
// letting invites expire, making new ones, then reviving the old ones by extending
// their expiry: a change that makes an invite pending again counts like a new one.
func TestQuotaRevival(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	user := core.Actor{Kind: core.ActorJID, ID: "user@example.com", Quota: &core.Quota{Outstanding: 3}}
	mk := func() (core.Invite, error) {
		return e.svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Kind: core.KindContact, Inviter: "user", TTL: time.Hour, Actor: user})
	}
	var old []core.Invite
	for range 3 {
		inv, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, inv)
	}
	e.clock.Add(2 * time.Hour) // the three expire
	for range 3 {
		if _, err := mk(); err != nil {
			t.Fatalf("a new invite once the old ones expired: %v", err)
		}
	}
	later := e.clock.Now().Add(time.Hour)
	for i, inv := range old {
		_, err := e.svc.UpdateInvite(ctx, user, "example.com", inv.ID, core.InvitePatch{ExpiresAt: &later})
		if !errors.Is(err, core.ErrQuota) {
			t.Errorf("reviving expired invite %d with 3 pending and an outstanding quota of 3 = %v, want ErrQuota", i, err)
		}
	}
	page, err := e.svc.ListInvites(ctx, user, core.InviteQuery{Host: "example.com", Status: core.StatusPending})
	if err != nil || len(page.Invites) != 3 {
		t.Fatalf("%d pending invites (%v), want 3", len(page.Invites), err)
	}
	// Changing a pending invite is no revival; with room again, a revival is allowed.
	if _, err := e.svc.UpdateInvite(ctx, user, "example.com", page.Invites[0].ID, core.InvitePatch{ExpiresAt: &later}); err != nil {
		t.Fatalf("extending a pending invite at the quota: %v", err)
	}
	if _, err := e.svc.RevokeInvite(ctx, user, "example.com", page.Invites[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdateInvite(ctx, user, "example.com", old[0].ID, core.InvitePatch{ExpiresAt: &later}); err != nil {
		t.Fatalf("reviving with room: %v", err)
	}
	// An administrator (no quota) revives what they like.
	admin := core.Actor{Kind: core.ActorJID, ID: "admin@example.com", Manage: true}
	if _, err := e.svc.UpdateInvite(ctx, admin, "example.com", old[1].ID, core.InvitePatch{ExpiresAt: &later}); err != nil {
		t.Fatalf("an administrator reviving: %v", err)
	}
}

// TestKeyRateBoundsAccounts (issue 21, LOW 10): a key's rate bounds the accounts its
// invites can make, not only the invites: max_uses m takes m of it, a raise by k takes
// k, and any number of accounts is refused.
func TestKeyRateBoundsAccounts(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	k, _, err := e.svc.CreateKey(ctx, core.KeySpec{Host: "example.com", Rate: core.Rate{N: 10, Period: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	by := core.KeyActor(k, "")
	inv, err := e.svc.CreateKeyInvite(ctx, k, core.InviteSpec{})
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range []int{100_000, 0, 12} {
		_, err := e.svc.UpdateInvite(ctx, by, "example.com", inv.ID, core.InvitePatch{MaxUses: &m})
		if fe := core.FieldErrors(err); len(fe) != 1 || fe[0].Field != core.FieldMaxUses || !errors.Is(err, core.ErrInvalid) {
			t.Errorf("%d: raising max_uses to %d = %v, want a refusal of max_uses", i, m, err)
		}
		if _, err := e.svc.CreateKeyInvite(ctx, k, core.InviteSpec{MaxUses: &m}); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("%d: an invite for %d accounts = %v, want a refusal of max_uses", i, m, err)
		}
	}
	five := 5
	if _, err := e.svc.UpdateInvite(ctx, by, "example.com", inv.ID, core.InvitePatch{MaxUses: &five}); err != nil {
		t.Fatalf("raising to 5 (4 more, 5 of 10 spent): %v", err)
	}
	four := 4
	if _, err := e.svc.CreateKeyInvite(ctx, k, core.InviteSpec{MaxUses: &four}); err != nil {
		t.Fatalf("an invite for 4 (9 of 10): %v", err)
	}
	two := 2
	var rl *core.RateLimitError
	if _, err := e.svc.CreateKeyInvite(ctx, k, core.InviteSpec{MaxUses: &two}); !errors.As(err, &rl) {
		t.Fatalf("an invite for 2 with 1 left = %v, want a rate limit", err)
	}
	seven := 7
	if _, err := e.svc.UpdateInvite(ctx, by, "example.com", inv.ID, core.InvitePatch{MaxUses: &seven}); !errors.As(err, &rl) {
		t.Fatalf("raising by 2 with 1 left = %v, want a rate limit", err)
	}
	if got, _ := e.svc.Invite(ctx, by, "example.com", inv.ID); got.MaxUses != 5 {
		t.Fatalf("a refused raise changed max_uses to %d", got.MaxUses)
	}
	// Lowering costs nothing; the command line, which has no rate, raises freely.
	one := 1
	if _, err := e.svc.UpdateInvite(ctx, by, "example.com", inv.ID, core.InvitePatch{MaxUses: &one}); err != nil {
		t.Fatalf("lowering: %v", err)
	}
	big := 1000
	if _, err := e.svc.UpdateInvite(ctx, cli, "example.com", inv.ID, core.InvitePatch{MaxUses: &big}); err != nil {
		t.Fatalf("the command line raising: %v", err)
	}
	// An hour later the budget is back.
	e.clock.Add(time.Hour)
	ten := 10
	if _, err := e.svc.CreateKeyInvite(ctx, k, core.InviteSpec{MaxUses: &ten}); err != nil {
		t.Fatalf("an invite for 10 an hour later: %v", err)
	}
}

func TestListInvitesPaging(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	var ids []string
	for range 7 {
		inv, err := e.svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append([]string{inv.ID}, ids...)
	}
	var got []string
	cursor := ""
	for page := 0; ; page++ {
		p, err := e.svc.ListInvites(ctx, cli, core.InviteQuery{Host: "example.com", Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range p.Invites {
			got = append(got, inv.ID)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
		if page > 5 {
			t.Fatal("no end")
		}
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("pages %v, want %v", got, ids)
	}
	for i, q := range []core.InviteQuery{
		{Host: "example.com", Limit: -1},
		{Host: "example.com", Limit: core.MaxListLimit + 1},
		{Host: "example.com", Cursor: "nonsense"},
		{Host: "example.com", Status: "gone"},
	} {
		if _, err := e.svc.ListInvites(ctx, cli, q); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("%d: ListInvites(%+v) = %v, want ErrInvalid", i, q, err)
		}
	}
	if _, err := e.svc.ListInvites(ctx, cli, core.InviteQuery{Host: "unknown.example"}); !errors.Is(err, core.ErrUnknownHost) {
		t.Errorf("unknown host: %v", err)
	}
}

func TestUpdateInviteBounds(t *testing.T) {
	e := newEnv(t, core.HostConfig{Domain: "example.com", MaxTTL: 10 * 24 * time.Hour})
	ctx := t.Context()
	k, _, err := e.svc.CreateKey(ctx, core.KeySpec{Host: "example.com", MaxTTL: 2 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := e.svc.CreateKeyInvite(ctx, k, core.InviteSpec{})
	if err != nil {
		t.Fatal(err)
	}
	key := core.KeyActor(k, "")
	at := func(d time.Duration) *time.Time { t := inv.CreatedAt.Add(d); return &t }
	tests := []struct {
		by   core.Actor
		p    core.InvitePatch
		want error
	}{
		0: {by: key, p: core.InvitePatch{ExpiresAt: at(3 * 24 * time.Hour)}, want: core.ErrInvalid}, // the key's bound
		1: {by: cli, p: core.InvitePatch{ExpiresAt: at(3 * 24 * time.Hour)}},                        // the host's
		2: {by: cli, p: core.InvitePatch{ExpiresAt: at(11 * 24 * time.Hour)}, want: core.ErrInvalid},
		3: {by: cli, p: core.InvitePatch{ExpiresAt: at(-time.Second)}, want: core.ErrInvalid},
		4: {by: key, p: core.InvitePatch{MaxUses: intp(-1)}, want: core.ErrInvalid},
		5: {by: key, p: core.InvitePatch{Note: new(string)}},
		6: {by: key, p: core.InvitePatch{Note: func() *string { s := "a\u202eb"; return &s }()}, want: core.ErrInvalid},
	}
	for i, tc := range tests {
		if _, err := e.svc.UpdateInvite(ctx, tc.by, "example.com", inv.ID, tc.p); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%d: UpdateInvite = %v, want %v", i, err, tc.want)
		}
	}
	// Expiring it now makes it expired at once.
	got, err := e.svc.UpdateInvite(ctx, key, "example.com", inv.ID, core.InvitePatch{ExpiresAt: at(0)})
	if err != nil || got.Status(e.clock.Now()) != core.StatusExpired {
		t.Fatalf("expired by update: %+v, %v", got, err)
	}
	if _, err := e.svc.CheckInvite(ctx, "example.com", inv.Token); !errors.Is(err, core.ErrExpired) {
		t.Fatalf("CheckInvite after expiring it: %v", err)
	}
}

func TestBuiltinLandingPage(t *testing.T) {
	e := newEnv(t)
	svc, err := core.NewService(core.Options{Store: e.store, BaseURL: "https://xmpp.example.com/",
		Hosts: []core.HostConfig{{Domain: "example.com", LandingPage: core.LandingBuiltin}, {Domain: "example.org"}}})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := svc.CreateInvite(t.Context(), core.InviteSpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := svc.InviteLocation(inv), "https://xmpp.example.com/invite?"+inv.Token; got != want {
		t.Errorf("InviteLocation = %q, want %q", got, want)
	}
	plain, err := svc.CreateInvite(t.Context(), core.InviteSpec{Host: "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.InviteLocation(plain); got != plain.URI(plain.Token) {
		t.Errorf("InviteLocation without a landing page = %q", got)
	}
	if _, err := core.NewService(core.Options{Store: e.store, Hosts: []core.HostConfig{{Domain: "example.com", LandingPage: "https://x.example/{tokn}"}}}); err == nil ||
		!strings.Contains(err.Error(), "{tokn}") {
		t.Errorf("a misspelled placeholder: %v", err)
	}
}

// countingStore counts key reads.
type countingStore struct {
	core.Store
	reads atomic.Int64
}

func (s *countingStore) Key(ctx context.Context, id string) (core.Key, error) {
	s.reads.Add(1)
	return s.Store.Key(ctx, id)
}

func TestKeyCache(t *testing.T) {
	e := newEnv(t)
	st := &countingStore{Store: e.store}
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}}, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	k, cred, err := svc.CreateKey(ctx, core.KeySpec{Host: "example.com", ExpiresIn: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := svc.Authenticate(ctx, cred); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.reads.Load(); n != 1 {
		t.Fatalf("%d store reads for 5 authentications, want 1", n)
	}
	// A wrong secret is never served from memory: it costs what an unknown ID costs.
	id, secret, _ := strings.Cut(cred, "/")
	if _, err := svc.Authenticate(ctx, id+"/"+flip(secret)); !errors.Is(err, core.ErrForbidden) {
		t.Fatal(err)
	}
	if n := st.reads.Load(); n != 2 {
		t.Fatalf("a wrong secret made %d reads in all, want 2", n)
	}
	// After the safety TTL the key is read again.
	e.clock.Add(core.DefaultKeyCacheTTL)
	if _, err := svc.Authenticate(ctx, cred); err != nil {
		t.Fatal(err)
	}
	if n := st.reads.Load(); n != 3 {
		t.Fatalf("after the TTL: %d reads, want 3", n)
	}
	// An expired key is refused from memory too.
	e.clock.Add(time.Hour)
	if _, err := svc.Authenticate(ctx, cred); !errors.Is(err, core.ErrExpired) {
		t.Fatalf("expired key: %v", err)
	}
	e.clock.Add(-time.Hour)
	// A deletion through another Service (another process would do the same through
	// the store's sentinel) is seen on the next request.
	other, err := core.NewService(core.Options{Store: e.store, Hosts: []core.HostConfig{{Domain: "example.com"}}, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, cred); err != nil {
		t.Fatal(err)
	}
	if err := other.DeleteKey(ctx, cli, "example.com", k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, cred); !errors.Is(err, core.ErrForbidden) {
		t.Fatalf("key deleted elsewhere: %v, want ErrForbidden", err)
	}
}

func TestErrorsHaveNoPackagePrefix(t *testing.T) {
	for _, err := range []error{core.ErrNotFound, core.ErrExpired, core.ErrForbidden, core.ErrInvalid, core.ErrUnknownHost,
		core.ErrRateLimited, core.ErrConflict, core.ErrRevoked, core.ErrUsedUp, core.ErrQuota, &core.RateLimitError{RetryAfter: 90 * time.Second}} {
		if strings.Contains(err.Error(), "core") || strings.Contains(err.Error(), "0s") {
			t.Errorf("%q", err)
		}
	}
	if got := (&core.RateLimitError{RetryAfter: 90 * time.Second}).Error(); got != "rate limited: retry in 1 minute 30 seconds" {
		t.Errorf("RateLimitError = %q", got)
	}
	if !errors.Is(core.ErrRevoked, core.ErrNotFound) || !errors.Is(core.ErrUsedUp, core.ErrNotFound) || errors.Is(core.ErrNotFound, core.ErrRevoked) {
		t.Error("ErrRevoked and ErrUsedUp must match ErrNotFound, not the other way")
	}
}

func TestHumanDuration(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0 seconds"}, {time.Nanosecond, "less than a second"}, {time.Second, "1 second"},
		{90 * time.Second, "1 minute 30 seconds"}, {time.Hour, "1 hour"}, {720 * time.Hour, "30 days"},
		{7 * day, "1 week"}, {14 * day, "2 weeks"}, {10 * day, "10 days"}, {day + 2*time.Hour, "1 day 2 hours"},
		{day + 2*time.Hour + 3*time.Minute, "1563 minutes"}, {-time.Hour, "-1 hour"}, {1500 * time.Millisecond, "2 seconds"},
	}
	for i, tc := range tests {
		if got := core.HumanDuration(tc.d); got != tc.want {
			t.Errorf("%d: HumanDuration(%v) = %q, want %q", i, tc.d, got, tc.want)
		}
	}
}

func TestCheckLandingPage(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" when accepted, else part of the error
	}{
		{"", ""}, {"builtin", ""}, {"https://example.com/invite?{token}", ""}, {"http://{host}/i/{uri}", ""},
		{"https://example.com/invite?{tokn}", "unknown placeholder {tokn}"},
		{"https://example.com/invite?{TOKEN}", "unknown placeholder {TOKEN}"},
		{"https://example.com/{host}", "neither {token} nor {uri}"},
		{"https://example.com/{token", "{ without its }"},
		{"https://example.com/token}", "} without its {"},
		{"example.com/{token}", "not an http or https URL"},
		{"Builtin", "not an http or https URL"},
		{"javascript:alert({token})", "not an http or https URL"},
	}
	for i, tc := range tests {
		err := core.CheckLandingPage(tc.in)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%d: CheckLandingPage(%q) = %v", i, tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, core.ErrInvalid)):
			t.Errorf("%d: CheckLandingPage(%q) = %v, want %q", i, tc.in, err, tc.want)
		}
	}
}

func TestParseInvitePatch(t *testing.T) {
	tests := []struct {
		in      string
		ok      bool
		expires bool
		uses    *int
		note    *string
	}{
		{in: `{}`, ok: true},
		{in: `{"note": "hi"}`, ok: true, note: func() *string { s := "hi"; return &s }()},
		{in: `{"note": null}`, ok: true, note: new(string)},
		{in: `{"max_uses": 0}`, ok: true, uses: intp(0)},
		{in: `{"max_uses": 5, "expires_at": "2030-01-02T03:04:05Z"}`, ok: true, uses: intp(5), expires: true},
		{in: `{"max_uses": null}`},
		{in: `{"expires_at": null}`},
		{in: `{"max_uses": 1.5}`},
		{in: `{"max_uses": -1}`},
		{in: `{"max_uses": "5"}`},
		{in: `{"expires_at": "tomorrow"}`},
		{in: `{"note": 5}`},
		{in: `{"token": "x"}`},
		{in: `[]`},
		{in: `null`},
		{in: `{} {}`},
		{in: ``},
	}
	for i, tc := range tests {
		p, err := core.ParseInvitePatch([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("%d: ParseInvitePatch(%s) = %v", i, tc.in, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, core.ErrInvalid) {
				t.Errorf("%d: error %v is not ErrInvalid", i, err)
			}
			continue
		}
		if (p.ExpiresAt != nil) != tc.expires || (p.MaxUses == nil) != (tc.uses == nil) || (p.Note == nil) != (tc.note == nil) ||
			tc.uses != nil && *p.MaxUses != *tc.uses || tc.note != nil && *p.Note != *tc.note {
			t.Errorf("%d: ParseInvitePatch(%s) = %+v", i, tc.in, p)
		}
	}
}

func TestCursor(t *testing.T) {
	pos := core.Position{CreatedAt: time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC), ID: "-0Ab_cdEFghI"}
	c := core.Cursor(pos)
	got, err := core.ParseCursor(c)
	if err != nil || !got.CreatedAt.Equal(pos.CreatedAt) || got.ID != pos.ID {
		t.Fatalf("ParseCursor(Cursor(%+v)) = %+v, %v", pos, got, err)
	}
	for _, bad := range []string{"", "x", c + "A", c[:len(c)-1], strings.Repeat("A", len(c))} {
		if _, err := core.ParseCursor(bad); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("ParseCursor(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

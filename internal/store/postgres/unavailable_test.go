package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/postgres"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
)

// TestUnavailable (issue 21, LOW 4): once the server goes away, the very first call
// of each kind fails with an error matching core.ErrUnavailable (which the edges answer
// with 503 and Retry-After), not an anonymous failure; a caller that gave up is not
// told the store is away.
func TestUnavailable(t *testing.T) {
	_, dsn := pgtest.Schema(t)
	proxy, through := pgtest.NewProxy(t, dsn)
	s := open(t, through, postgres.Options{})
	ctx := testCtx(t)
	inv := newInvite(t, nil)
	if err := s.CreateInvite(ctx, inv, core.InviteWrite{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Invite(ctx, inv.ID); err != nil {
		t.Fatal(err)
	}
	proxy.Close()
	calls := []struct {
		name string
		call func() error
	}{
		{"Invite", func() error { _, err := s.Invite(ctx, inv.ID); return err }},
		{"Key", func() error { _, err := s.Key(ctx, "AAAAAAAAAAAA"); return err }},
		{"CreateInvite", func() error { return s.CreateInvite(ctx, newInvite(t, nil), core.InviteWrite{}) }},
		{"CreateInvite with a rate", func() error {
			return s.CreateInvite(ctx, newInvite(t, nil), core.InviteWrite{Rate: &core.RateCharge{KeyID: "k", Rate: core.Rate{N: 1, Period: time.Hour}, N: 1, Now: now}})
		}},
		{"ChangeInvite", func() error {
			_, err := s.ChangeInvite(ctx, inv.ID, func(*core.Invite) (core.InviteChange, error) { return core.InviteChange{}, nil })
			return err
		}},
		{"ListInvites", func() error {
			_, err := s.ListInvites(ctx, core.InviteFilter{Host: "example.com", Now: now, Limit: 1})
			return err
		}},
		{"Keys", func() error { _, err := s.Keys(ctx, "example.com"); return err }},
		{"RecordedHosts", func() error { _, err := s.RecordedHosts(ctx); return err }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, core.ErrUnavailable) {
			t.Errorf("%s with the server away = %v, want core.ErrUnavailable", c.name, err)
		}
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Invite(gone, inv.ID); errors.Is(err, core.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Invite with a canceled context = %v, want context.Canceled only", err)
	}
}

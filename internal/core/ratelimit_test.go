package core_test

import (
	"errors"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

var _ core.RateLimiter = (*core.MemoryRateLimiter)(nil)

func TestMemoryRateLimiter(t *testing.T) {
	ctx := t.Context()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	rate := core.Rate{N: 3, Period: time.Minute} // a burst of 3, then one every 20 s
	steps := []struct {
		key       string
		at        time.Duration
		rate      core.Rate
		wantWait  time.Duration // 0: allowed
		wantAllow bool
	}{
		0:  {key: "a", at: 0, rate: rate, wantAllow: true},
		1:  {key: "a", at: 0, rate: rate, wantAllow: true},
		2:  {key: "a", at: 0, rate: rate, wantAllow: true},
		3:  {key: "a", at: 0, rate: rate, wantWait: 20 * time.Second},
		4:  {key: "b", at: 0, rate: rate, wantAllow: true}, // keys are independent
		5:  {key: "a", at: 10 * time.Second, rate: rate, wantWait: 10 * time.Second},
		6:  {key: "a", at: 20 * time.Second, rate: rate, wantAllow: true},
		7:  {key: "a", at: 20 * time.Second, rate: rate, wantWait: 20 * time.Second},
		8:  {key: "a", at: 10 * time.Minute, rate: rate, wantAllow: true}, // the burst is back
		9:  {key: "a", at: 10 * time.Minute, rate: rate, wantAllow: true},
		10: {key: "a", at: 10 * time.Minute, rate: rate, wantAllow: true},
		11: {key: "a", at: 10 * time.Minute, rate: rate, wantWait: 20 * time.Second},
		12: {key: "c", at: 0, rate: core.Rate{}, wantAllow: true}, // unlimited
		13: {key: "c", at: 0, rate: core.Rate{}, wantAllow: true},
		14: {key: "d", at: 0, rate: core.Rate{N: 1, Period: time.Hour}, wantAllow: true},
		15: {key: "d", at: 30 * time.Minute, rate: core.Rate{N: 1, Period: time.Hour}, wantWait: 30 * time.Minute},
	}
	l := core.NewMemoryRateLimiter()
	for i, st := range steps {
		err := l.Allow(ctx, st.key, st.rate, t0.Add(st.at))
		if st.wantAllow {
			if err != nil {
				t.Errorf("%d: key %s at %v: %v, want allowed", i, st.key, st.at, err)
			}
			continue
		}
		var rl *core.RateLimitError
		if !errors.As(err, &rl) || !errors.Is(err, core.ErrRateLimited) {
			t.Errorf("%d: key %s at %v: %v, want a *RateLimitError", i, st.key, st.at, err)
			continue
		}
		if rl.RetryAfter != st.wantWait {
			t.Errorf("%d: key %s at %v: retry after %v, want %v", i, st.key, st.at, rl.RetryAfter, st.wantWait)
		}
	}
}

func TestMemoryRateLimiterManyKeys(t *testing.T) {
	ctx := t.Context()
	l := core.NewMemoryRateLimiter()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	rate := core.Rate{N: 1, Period: time.Second}
	// More keys than the limiter keeps before forgetting idle ones: limits still hold.
	for i := range 10_000 {
		if err := l.Allow(ctx, string(rune('a'+i%26))+time.Duration(i).String(), rate, t0.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
	}
	now := t0.Add(20 * time.Second)
	if err := l.Allow(ctx, "x", rate, now); err != nil {
		t.Fatal(err)
	}
	if err := l.Allow(ctx, "x", rate, now); !errors.Is(err, core.ErrRateLimited) {
		t.Fatalf("second event in the same second = %v, want ErrRateLimited", err)
	}
}

func TestKeyRateLimit(t *testing.T) {
	ctx := t.Context()
	svc, _, clk := newService(t)
	k, _, err := svc.CreateKey(ctx, core.KeySpec{Host: "example.com", Rate: core.Rate{N: 2, Period: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := svc.CreateKeyInvite(ctx, k, core.InviteSpec{}); err != nil {
			t.Fatalf("invite %d: %v", i, err)
		}
	}
	_, err = svc.CreateKeyInvite(ctx, k, core.InviteSpec{})
	var rl *core.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 30*time.Minute {
		t.Fatalf("third invite = %v, want a rate limit with retry after 30m", err)
	}
	clk.Add(30 * time.Minute)
	if _, err := svc.CreateKeyInvite(ctx, k, core.InviteSpec{}); err != nil {
		t.Fatalf("invite after waiting: %v", err)
	}
	// CreateInvite, for admins and users, is not bound by any key's rate.
	for range 5 {
		if _, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com"}); err != nil {
			t.Fatal(err)
		}
	}
}

package core_test

import (
	"errors"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

func TestRateTake(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	rate := core.Rate{N: 3, Period: time.Minute} // a burst of 3, then one every 20 s
	steps := []struct {
		key      string
		at       time.Duration
		rate     core.Rate
		n        int
		wantWait time.Duration // 0: allowed
	}{
		0:  {key: "a", at: 0, rate: rate, n: 1},
		1:  {key: "a", at: 0, rate: rate, n: 1},
		2:  {key: "a", at: 0, rate: rate, n: 1},
		3:  {key: "a", at: 0, rate: rate, n: 1, wantWait: 20 * time.Second},
		4:  {key: "b", at: 0, rate: rate, n: 1}, // budgets are independent
		5:  {key: "a", at: 10 * time.Second, rate: rate, n: 1, wantWait: 10 * time.Second},
		6:  {key: "a", at: 20 * time.Second, rate: rate, n: 1},
		7:  {key: "a", at: 20 * time.Second, rate: rate, n: 1, wantWait: 20 * time.Second},
		8:  {key: "a", at: 10 * time.Minute, rate: rate, n: 1}, // the burst is back
		9:  {key: "a", at: 10 * time.Minute, rate: rate, n: 1},
		10: {key: "a", at: 10 * time.Minute, rate: rate, n: 1},
		11: {key: "a", at: 10 * time.Minute, rate: rate, n: 1, wantWait: 20 * time.Second},
		12: {key: "c", at: 0, rate: core.Rate{}, n: 1}, // unlimited
		13: {key: "c", at: 0, rate: core.Rate{}, n: 1000},
		14: {key: "d", at: 0, rate: core.Rate{N: 1, Period: time.Hour}, n: 1},
		15: {key: "d", at: 30 * time.Minute, rate: core.Rate{N: 1, Period: time.Hour}, n: 1, wantWait: 30 * time.Minute},
		// Several at once: an invite for 3 accounts takes the whole burst of 3.
		16: {key: "e", at: 0, rate: rate, n: 3},
		17: {key: "e", at: 0, rate: rate, n: 1, wantWait: 20 * time.Second},
		18: {key: "e", at: 40 * time.Second, rate: rate, n: 3, wantWait: 20 * time.Second},
		19: {key: "e", at: 40 * time.Second, rate: rate, n: 2},
		20: {key: "f", at: 0, rate: rate, n: 2},
		21: {key: "f", at: 0, rate: rate, n: 2, wantWait: 20 * time.Second}, // refused: takes nothing
		22: {key: "f", at: 0, rate: rate, n: 1},
	}
	tats := map[string]time.Time{}
	for i, st := range steps {
		next, err := st.rate.Take(tats[st.key], st.n, t0.Add(st.at))
		if st.wantWait == 0 {
			if err != nil {
				t.Errorf("%d: key %s at %v: %v, want allowed", i, st.key, st.at, err)
			}
			tats[st.key] = next
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

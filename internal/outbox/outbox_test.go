package outbox_test

import (
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/outbox"
)

func TestClaimLimit(t *testing.T) {
	for _, tc := range []struct {
		owner string
		lease time.Duration
		limit int
		want  int // -1: refused
	}{
		{"node-1", time.Minute, 10, 10},
		{"node-1", time.Minute, 0, 1},
		{"node-1", time.Minute, -5, 1},
		{"node-1", time.Minute, outbox.MaxClaim + 1, outbox.MaxClaim},
		{"", time.Minute, 10, -1},
		{"node-1", 0, 10, -1},
		{"node-1", -time.Second, 10, -1},
	} {
		got, err := outbox.ClaimLimit(tc.owner, tc.lease, tc.limit)
		if tc.want < 0 && err == nil || tc.want >= 0 && (err != nil || got != tc.want) {
			t.Errorf("ClaimLimit(%q, %v, %d) = %d, %v; want %d", tc.owner, tc.lease, tc.limit, got, err, tc.want)
		}
	}
}

func TestLogQueryBounded(t *testing.T) {
	for limit, want := range map[int]int{0: outbox.DefaultLogLimit, -1: outbox.DefaultLogLimit, 7: 7,
		outbox.MaxLogLimit + 1: outbox.MaxLogLimit} {
		if got := (outbox.LogQuery{Limit: limit}).Bounded(); got != want {
			t.Errorf("Bounded(%d) = %d, want %d", limit, got, want)
		}
	}
}

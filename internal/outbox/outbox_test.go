package outbox_test

import (
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
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

// bounded is a sink that says how long its deliveries of an event may take.
type bounded struct {
	name string
	d    time.Duration
}

func (b bounded) Name() string                            { return b.name }
func (b bounded) Wants(core.EventType) bool               { return false }
func (b bounded) Deliveries(core.Event) []outbox.Delivery { return nil }
func (b bounded) MaxDuration() time.Duration              { return b.d }

// TestDefaultLease checks the lease a worker takes by default: twice what its sinks
// may take, plus 5 seconds (45 s for one webhook endpoint of the default timeout, two
// messages), or DefaultLease when no sink says.
func TestDefaultLease(t *testing.T) {
	for i, tc := range []struct {
		sinks []outbox.Sink
		want  time.Duration
	}{
		0: {[]outbox.Sink{outbox.NewFunnelSink(nil, nil)}, outbox.DefaultLease},
		1: {[]outbox.Sink{outbox.NewFunnelSink(nil, nil), bounded{"webhook", 20 * time.Second}, bounded{"host", 0}}, 45 * time.Second},
		2: {[]outbox.Sink{bounded{"webhook", 20 * time.Second}, bounded{"email", 30 * time.Second}}, 105 * time.Second},
	} {
		w, err := outbox.NewWorker(outbox.Options{Store: nopStore{}, Sinks: tc.sinks})
		if err != nil || w.Lease() != tc.want {
			t.Errorf("%d: lease %v, %v; want %v", i, w.Lease(), err, tc.want)
		}
	}
	if _, err := outbox.NewWorker(outbox.Options{Store: nopStore{}, Sinks: []outbox.Sink{bounded{"a", 0}, bounded{"a", 0}}}); err == nil {
		t.Error("two sinks of one name accepted")
	}
}

// nopStore is an outbox with nothing in it.
type nopStore struct{ outbox.Store }

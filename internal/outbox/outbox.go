package outbox

import (
	"context"
	"errors"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// ErrLeaseLost means the caller no longer owns the event's lease: it ran out and
// another worker may have claimed the event, or the event is gone.
var ErrLeaseLost = errors.New("the delivery lease was lost")

// Entry is an event of the outbox, claimed for delivery.
type Entry struct {
	// Event is the event as the core wrote it.
	Event core.Event
	// Attempts counts the claims of the event, this one included.
	Attempts int
	// Done lists the endpoints that have the event already, from earlier attempts.
	Done []string
	// CreatedAt is when the event was written.
	CreatedAt time.Time
}

// Attempt is one delivery of an event to one endpoint, as the delivery log keeps it.
type Attempt struct {
	// EventID is the event delivered.
	EventID string
	// Type is the event's type, or the type of the message derived from it (such as
	// "account.created").
	Type string
	// Host is the XMPP domain of the event.
	Host string
	// Sink names the sink that made the attempt: "webhook", "host", "email", "funnel".
	Sink string
	// Endpoint names the receiver within the sink: a webhook's name, "host", "email".
	Endpoint string
	// Attempt is the number of the claim the attempt was made in, from 1.
	Attempt int
	// At is when the attempt began.
	At time.Time
	// Duration is how long it took.
	Duration time.Duration
	// Status is the receiver's answer: the HTTP status of a webhook endpoint, the
	// SMTP reply code of a mail relay; 0 when none came.
	Status int
	// Error says what went wrong, "" for a success; never a secret.
	Error string
}

// OK reports whether the attempt delivered the event.
func (a Attempt) OK() bool { return a.Error == "" }

// Failure is what Fail records of an event that is not delivered everywhere yet.
type Failure struct {
	// Done lists every endpoint that has the event now.
	Done []string
	// NextAttempt is when the event is due again.
	NextAttempt time.Time
	// Error is the last error, for the log and the operator.
	Error string
	// GiveUp ends the event's delivery: it is not due again.
	GiveUp bool
	// Effects are written with the failure (see Effect).
	Effects []Effect
}

// Effect is a change of the store that a delivery makes, written in the transaction
// that records the delivery, so that it happens exactly when the delivery is recorded
// (and only while the worker holds the event's lease).
type Effect struct {
	// Funnel, when not nil, adds to a stage of an invite's funnel.
	Funnel *core.FunnelCount
	// Mail, when not nil, records the delivery of an invite's email.
	Mail *MailOutcome
}

// MailOutcome is what became of an invite's email.
type MailOutcome struct {
	// InviteID is the invite.
	InviteID string
	// Mail is its delivery state now; Mail.Event is the event of the mail. It is
	// recorded only while the invite is pending and still wants that mail (its own
	// Mail.Event is the same).
	Mail core.Mail
	// TokenHash, when not nil, becomes the invite's token hash: the hash of the token
	// the mail carries, which thus starts working as the mail goes out.
	TokenHash []byte
}

// LogQuery selects attempts of the delivery log.
type LogQuery struct {
	// Host keeps the attempts of events of this XMPP domain; "" keeps all.
	Host string
	// Sink keeps the attempts of this sink ("webhook", "host", "email", "funnel"); ""
	// keeps all.
	Sink string
	// EventID keeps the attempts of this event; "" keeps all.
	EventID string
	// Limit bounds the attempts returned, newest first. Zero or less means
	// DefaultLogLimit; at most MaxLogLimit.
	Limit int
}

// Bounds of a LogQuery.
const (
	// DefaultLogLimit is how many attempts Log returns unless asked.
	DefaultLogLimit = 50
	// MaxLogLimit bounds how many attempts Log returns.
	MaxLogLimit = 1000
)

// Bounded returns q.Limit within its bounds.
func (q LogQuery) Bounded() int {
	switch {
	case q.Limit <= 0:
		return DefaultLogLimit
	case q.Limit > MaxLogLimit:
		return MaxLogLimit
	}
	return q.Limit
}

// MaxClaim bounds how many events one Claim leases.
const MaxClaim = 1000

// ClaimLimit checks the arguments of a Claim, the same for every store: an owner and a
// lease are required; the limit is taken within 1 to MaxClaim.
func ClaimLimit(owner string, lease time.Duration, limit int) (int, error) {
	if owner == "" || lease <= 0 {
		return 0, errors.New("claiming events: an owner and a lease are required")
	}
	return min(max(limit, 1), MaxClaim), nil
}

// Backlog says how much of the outbox is waiting.
type Backlog struct {
	// Pending counts the events not delivered and not given up.
	Pending int
	// Oldest is when the oldest pending event was written; zero when none is.
	Oldest time.Time
	// GivenUp counts the events whose delivery was given up and that are still kept.
	GivenUp int
}

// Store is the outbox of a store: implemented by the SQLite and PostgreSQL stores.
// All methods are safe for concurrent use from several processes and nodes.
type Store interface {
	// Claim leases up to limit due events to owner until now+lease, oldest first,
	// counting an attempt on each (see ClaimLimit). Events leased to another owner whose lease has not
	// run out by now are not due.
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Entry, error)
	// Complete marks the event delivered at now, logs the attempts and writes the
	// effects, if owner still holds its lease; otherwise it logs the attempts only and
	// returns ErrLeaseLost.
	Complete(ctx context.Context, id, owner string, now time.Time, attempts []Attempt, effects []Effect) error
	// Fail releases the event's lease, records f (writing its effects) and logs the
	// attempts, if owner still holds its lease; otherwise it logs the attempts only and
	// returns ErrLeaseLost.
	Fail(ctx context.Context, id, owner string, f Failure, attempts []Attempt) error
	// DeliveryLog returns the attempts q selects, newest first.
	DeliveryLog(ctx context.Context, q LogQuery) ([]Attempt, error)
	// OutboxBacklog counts what is waiting in the outbox.
	OutboxBacklog(ctx context.Context) (Backlog, error)
	// PurgeOutbox deletes the events delivered or given up before before, and the
	// attempts logged before it, and says how many events it deleted.
	PurgeOutbox(ctx context.Context, before time.Time) (int64, error)
}

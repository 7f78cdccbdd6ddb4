package core

import (
	"context"
	"time"
)

// Store keeps keys and invites.
// Implementations live in internal/store; each must pass the contract suite in
// internal/store/storetest.
// All methods are safe for concurrent use, from several processes at once.
// A method returns only after its write is durable (committed).
type Store interface {
	// CreateKey stores a new key; ErrConflict if the ID exists.
	CreateKey(ctx context.Context, k Key) error
	// Key returns the key with that ID, or ErrNotFound.
	Key(ctx context.Context, id string) (Key, error)
	// Keys lists the keys of a host, oldest first.
	Keys(ctx context.Context, host string) ([]Key, error)
	// DeleteKey deletes the key with that ID on that host, or returns ErrNotFound.
	DeleteKey(ctx context.Context, host, id string) error
	// AddKeyUses adds each batch to its key's use count and raises its last use.
	// Uses of keys that no longer exist are dropped.
	AddKeyUses(ctx context.Context, uses []KeyUse) error

	// CreateInvite stores a new invite (inv.Token is not stored); ErrConflict if its
	// token hash exists.
	CreateInvite(ctx context.Context, inv Invite) error
	// Invite returns the invite with that token hash, or ErrNotFound.
	// It returns expired invites too; the caller decides.
	Invite(ctx context.Context, tokenHash []byte) (Invite, error)
	// ConsumeInvite deletes and returns the invite with that token hash, atomically:
	// of concurrent calls for one invite at most one succeeds.
	// It fails, changing nothing, with ErrNotFound if there is no such invite, ErrExpired
	// if it has expired at now, and ErrForbidden if username is not allowed (the invite
	// fixes another name, or cannot register accounts).
	ConsumeInvite(ctx context.Context, tokenHash []byte, username string, now time.Time) (Invite, error)
	// DeleteExpiredInvites deletes invites expired at now and says how many.
	DeleteExpiredInvites(ctx context.Context, now time.Time) (int64, error)

	// Close releases the store; pending writes are finished first.
	Close() error
}

// RateLimiter decides whether a key may make one more invite now.
// The in-memory limiter of NewMemoryRateLimiter serves one process; a store shared by
// several nodes can offer one that holds across them.
type RateLimiter interface {
	// Allow takes one event from the key's budget, or returns a *RateLimitError.
	Allow(ctx context.Context, keyID string, rate Rate, now time.Time) error
}

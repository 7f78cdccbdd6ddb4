package core

import (
	"crypto/sha256"
	"strings"
	"time"
)

// Key is an API key as stored: everything but the secret, of which only a hash is kept.
type Key struct {
	// ID is the public half of the key, 12 base64url characters.
	ID string
	// Host is the XMPP domain the key creates invites for.
	Host string
	// Name helps the operator remember what the key is for; it may be empty.
	Name string
	// SecretHash is SHA-256 of the secret half.
	SecretHash []byte
	// CreatedAt is when the key was made.
	CreatedAt time.Time
	// ExpiresAt is when the key stops working; zero means never.
	ExpiresAt time.Time
	// MaxTTL bounds the lifetime of invites the key creates; zero means the host's bound.
	MaxTTL time.Duration
	// Rate limits how many invites the key creates; the zero Rate means unlimited.
	Rate Rate
	// LastUsed is when the key last authenticated a request; zero means never.
	LastUsed time.Time
	// Uses counts the requests the key authenticated.
	Uses int64
	// Manage lets the key see and change every invite of its host, not only those it
	// made.
	Manage bool
}

// Expired reports whether the key has expired at now.
func (k Key) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// KeyUse is a batch of uses of one key, added to its stored use count and last use.
type KeyUse struct {
	// ID is the key's ID.
	ID string
	// Count is how many uses to add.
	Count int64
	// LastUsed is the latest of these uses.
	LastUsed time.Time
}

// ParseKey splits an API key "ID/SECRET" into its halves.
// It checks lengths and alphabet, so anything it accepts is well formed; a malformed
// key gives an error wrapping ErrInvalid that names no part of the input.
func ParseKey(key string) (id, secret string, err error) {
	id, secret, ok := strings.Cut(key, "/")
	if !ok || !isBase64URL(id, KeyIDLen) || !isBase64URL(secret, KeySecretLen) {
		return "", "", invalidf("malformed API key: a key is ID/SECRET, of %d and %d base64url characters", KeyIDLen, KeySecretLen)
	}
	return id, secret, nil
}

// ValidKeyID reports whether s has the form of an API key ID.
func ValidKeyID(s string) bool { return isBase64URL(s, KeyIDLen) }

func hashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

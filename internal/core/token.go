package core

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"sync"
	"time"
)

// Sizes of the random values, in bytes before encoding (no padding).
const (
	keyIDBytes     = 9  // KeyIDLen characters
	keySecretBytes = 27 // KeySecretLen characters
	idBytes        = 9  // IDLen characters: 6 bytes of Unix milliseconds, 3 random
	secretBytes    = 18 // token secret: 24 characters, 144 bits

	// KeyIDLen is the length of an API key ID.
	KeyIDLen = 12
	// KeySecretLen is the length of an API key secret.
	KeySecretLen = 36
	// IDLen is the length of an invite ID.
	IDLen = 12
	// EventIDLen is the length of an event ID.
	EventIDLen = 16
	// TokenLen is the length of an invite token: an ID of IDLen characters followed by
	// a secret of 24 characters (18 bytes from the CSPRNG).
	TokenLen = IDLen + 24
	// LegacyTokenLen is the length of the invite tokens made before version 2: 24
	// characters, all of them secret. They keep working.
	LegacyTokenLen = 24
)

// b64 encodes key IDs, key secrets and token secrets: base64url without padding.
var b64 = base64.RawURLEncoding

// sortable is base64url's alphabet in ASCII order, so that the text order of encoded
// values is their numeric order; invite and event IDs use it, so text order is time
// order.
var sortable = base64.NewEncoding("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz").WithPadding(base64.NoPadding)

// randomString returns n bytes from the CSPRNG encoded as base64url without padding.
func randomString(n int) (string, error) {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	return b64.EncodeToString(buf), nil
}

// idSource makes time-ordered IDs: 6 bytes of Unix milliseconds then 3 random bytes,
// strictly increasing within a process (an ID in the same millisecond as the last one,
// or made while the clock went back, is the last one plus one), so that stores keyed
// by them append.
// IDs made by different processes in the same millisecond differ by their random bytes;
// a collision, about one in 16 million for two IDs of one millisecond, is a conflict
// that the creator retries.
//
// The same scheme with 6 random bytes makes event IDs (EventIDLen characters), which
// must never collide: a collision would fail the change whose event it is.
type idSource struct {
	randBytes int // 3 for invite IDs, 6 for event IDs

	mu  sync.Mutex
	ms  int64  // of the last ID
	low uint64 // its random part
}

// next returns a new ID for the time now.
// Should the CSPRNG fail, the random part is zero: IDs are not secret, and the
// process's IDs still never repeat.
func (s *idSource) next(now time.Time) string {
	n := s.randBytes
	if n <= 0 || n > 6 {
		n = 3
	}
	var r [8]byte
	_, _ = rand.Read(r[8-n:])
	ms, low := max(now.UnixMilli(), 0), binary.BigEndian.Uint64(r[:])
	s.mu.Lock()
	if ms <= s.ms {
		ms, low = s.ms, s.low+1
		if low >= 1<<(8*n) {
			ms, low = ms+1, 0
		}
	}
	s.ms, s.low = ms, low
	s.mu.Unlock()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(ms))
	binary.BigEndian.PutUint64(b[8:], low)
	// 6 bytes of milliseconds (the low 6 of 8), then the n low bytes of the random part.
	return sortable.EncodeToString(append(b[2:8:8], b[16-n:]...))
}

// IDTime returns the creation time an ID made by this package carries, to the
// millisecond, and false for an ID that does not have the form (such as the IDs of
// legacy invites, derived from their token).
func IDTime(id string) (time.Time, bool) {
	if len(id) != IDLen {
		return time.Time{}, false
	}
	b, err := sortable.Strict().DecodeString(id)
	if err != nil {
		return time.Time{}, false
	}
	var x [8]byte
	copy(x[2:], b[:6])
	return time.UnixMilli(int64(binary.BigEndian.Uint64(x[:]))).UTC(), true
}

// newToken returns an invite token for the ID: the ID followed by 24 characters of
// secret (18 bytes from the CSPRNG).
func newToken(id string) (string, error) {
	secret, err := randomString(secretBytes)
	if err != nil {
		return "", err
	}
	return id + secret, nil
}

// HashToken returns the SHA-256 of an invite token, the only form a store keeps.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// InviteID derives the public ID of a legacy invite (a token of LegacyTokenLen
// characters, made before version 2) from its token hash.
// Knowing the ID does not help to find the token.
func InviteID(tokenHash []byte) string {
	if len(tokenHash) < keyIDBytes {
		return ""
	}
	return b64.EncodeToString(tokenHash[:keyIDBytes])
}

// TokenID returns the ID of the invite a token names: its first IDLen characters, or
// for a legacy token the ID derived from its hash.
// It returns "" for a string that is not a well-formed token.
func TokenID(token string) string {
	switch {
	case !ValidToken(token):
		return ""
	case len(token) == LegacyTokenLen:
		return InviteID(HashToken(token))
	}
	return token[:IDLen]
}

// isBase64URL reports whether s has exactly n characters of the base64url alphabet and
// decodes without stray bits (so each value has exactly one spelling).
func isBase64URL(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// ValidToken reports whether s has the form of an invite token: TokenLen base64url
// characters, or LegacyTokenLen for a token made before version 2.
func ValidToken(s string) bool {
	return isBase64URL(s, TokenLen) || isBase64URL(s, LegacyTokenLen)
}

// ValidID reports whether s has the form of an invite ID (of either generation).
func ValidID(s string) bool { return isBase64URL(s, IDLen) }

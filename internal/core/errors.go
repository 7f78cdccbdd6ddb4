package core

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors returned by the core and by every [Store].
// Callers match them with errors.Is and map them onto their protocol.
var (
	// ErrNotFound means the key or invite does not exist (or no longer does).
	ErrNotFound = errors.New("core: not found")
	// ErrExpired means the key or invite exists but is past its expiry.
	ErrExpired = errors.New("core: expired")
	// ErrForbidden means the credential is wrong, or the invite does not allow this use
	// (for example another username than the fixed one).
	ErrForbidden = errors.New("core: forbidden")
	// ErrInvalid means the input is malformed; it is wrapped with the reason.
	ErrInvalid = errors.New("core: invalid input")
	// ErrUnknownHost means the host is not one this installation serves.
	ErrUnknownHost = errors.New("core: unknown host")
	// ErrRateLimited means a key's rate is exceeded; see RateLimitError for the wait.
	ErrRateLimited = errors.New("core: rate limited")
	// ErrConflict means an object with the same identity already exists.
	ErrConflict = errors.New("core: conflict")
)

// invalidf returns an error wrapping ErrInvalid with a reason meant for the requester.
// String arguments, which echo the requester's input, are clipped to maxEcho bytes so
// that a huge input does not make a huge error.
func invalidf(format string, args ...any) error {
	for i, a := range args {
		if s, ok := a.(string); ok && len(s) > maxEcho {
			args[i] = strings.ToValidUTF8(s[:maxEcho], "") + "…"
		}
	}
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// maxEcho bounds how much of an input an error message repeats: quoted, each byte
// may take four characters.
const maxEcho = 32

// RateLimitError is returned when a key's rate is exceeded.
// It matches ErrRateLimited with errors.Is and says how long to wait.
type RateLimitError struct {
	// RetryAfter is how long until the next request can succeed.
	RetryAfter time.Duration
}

// Error implements error.
func (e *RateLimitError) Error() string {
	return fmt.Sprintf("core: rate limited, retry after %s", e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

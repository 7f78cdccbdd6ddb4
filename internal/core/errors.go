package core

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors returned by the core and by every [Store].
// Callers match them with errors.Is and map them onto their protocol.
// Their texts carry no package prefix: an error that reaches a user says what was wrong
// in the user's words.
var (
	// ErrNotFound means the key or invite does not exist (or no longer does), or belongs
	// to another host or, for a caller that may not see it, to another creator.
	ErrNotFound = errors.New("not found")
	// ErrExpired means the key or invite exists but is past its expiry.
	ErrExpired = errors.New("expired")
	// ErrForbidden means the credential is wrong, or the invite does not allow this use
	// (another username than the fixed one, or another purpose than its kind allows).
	ErrForbidden = errors.New("forbidden")
	// ErrInvalid means the input is malformed; the error that wraps it says why.
	ErrInvalid = errors.New("invalid input")
	// ErrUnknownHost means the host is not one this installation serves.
	ErrUnknownHost = errors.New("unknown host")
	// ErrRateLimited means a key's rate is exceeded; see RateLimitError for the wait.
	ErrRateLimited = errors.New("rate limited")
	// ErrConflict means an object with the same identity already exists, or a change
	// does not fit the object's state (lowering max_uses below uses, changing a revoked
	// invite).
	ErrConflict = errors.New("conflict")
	// ErrRevoked means the invite was revoked. It also matches ErrNotFound, so that
	// callers which only know ErrNotFound treat a revoked invite as gone.
	ErrRevoked error = &aliasError{text: "invite revoked", also: ErrNotFound}
	// ErrUsedUp means the invite has been used as many times as it allows. It also
	// matches ErrNotFound.
	ErrUsedUp error = &aliasError{text: "invite used up", also: ErrNotFound}
	// ErrUnknownKey means no key has a credential's ID (Authenticate). It also matches
	// ErrForbidden, so that callers which only know ErrForbidden answer it as any other
	// wrong credential; the HTTP API's failed-authentication limiter tells it apart
	// from a wrong secret for an existing key.
	ErrUnknownKey error = &aliasError{text: "forbidden", also: ErrForbidden}
	// ErrQuota means the requester has made as many invites as its quota allows
	// (see Quota).
	ErrQuota = errors.New("invite quota reached")
)

// aliasError is a sentinel that also matches a broader one.
type aliasError struct {
	text string
	also error
}

// Error implements error.
func (e *aliasError) Error() string { return e.text }

// Is makes the error match its broader sentinel too.
func (e *aliasError) Is(target error) bool { return target == e.also }

// reasonError is an error whose text is a reason meant for the requester, matching a
// sentinel.
type reasonError struct {
	reason string
	is     error
}

// Error implements error: the reason alone.
func (e *reasonError) Error() string { return e.reason }

// Is makes the error match its sentinel.
func (e *reasonError) Is(target error) bool { return target == e.is }

// invalidf returns an error matching ErrInvalid whose text is the reason, meant for the
// requester.
// String arguments, which echo the requester's input, are clipped to maxEcho bytes so
// that a huge input does not make a huge error.
func invalidf(format string, args ...any) error { return reasonf(ErrInvalid, format, args...) }

// conflictf returns an error matching ErrConflict whose text is the reason.
func conflictf(format string, args ...any) error { return reasonf(ErrConflict, format, args...) }

func reasonf(is error, format string, args ...any) error {
	for i, a := range args {
		if s, ok := a.(string); ok && len(s) > maxEcho {
			args[i] = strings.ToValidUTF8(s[:maxEcho], "") + "…"
		}
	}
	return &reasonError{reason: fmt.Sprintf(format, args...), is: is}
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
	return "rate limited: retry in " + HumanDuration(max(e.RetryAfter.Round(time.Second), time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// Reason names a refusal in a word that logs, metrics and events can carry: "not-found",
// "expired", "revoked", "used-up", "forbidden", "invalid", "unknown-host",
// "rate-limited", "quota", "conflict", or "error" for anything else (a store failure).
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrRevoked):
		return "revoked"
	case errors.Is(err, ErrUsedUp):
		return "used-up"
	case errors.Is(err, ErrNotFound):
		return "not-found"
	case errors.Is(err, ErrExpired):
		return "expired"
	case errors.Is(err, ErrForbidden):
		return "forbidden"
	case errors.Is(err, ErrInvalid):
		return "invalid"
	case errors.Is(err, ErrUnknownHost):
		return "unknown-host"
	case errors.Is(err, ErrRateLimited):
		return "rate-limited"
	case errors.Is(err, ErrQuota):
		return "quota"
	case errors.Is(err, ErrConflict):
		return "conflict"
	}
	return "error"
}

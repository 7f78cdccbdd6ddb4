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
	// ErrInviterInactive means the invite's creator is no longer in good standing: its
	// account is disabled, deleted or pending approval (see HostConfig.InviterStanding).
	// It also matches ErrNotFound, so that callers which only know ErrNotFound treat
	// the invite as gone.
	ErrInviterInactive error = &aliasError{text: "the person who invited you can no longer invite people here", also: ErrNotFound}
	// ErrUnavailable means the store cannot be reached right now (its PostgreSQL
	// server is down or restarting, or the store is closed): the same request may
	// succeed later. The stores wrap their connection failures with it, so that every
	// edge answers "try again" (HTTP 503 with Retry-After, ad-hoc service-unavailable)
	// from the first failed call, not an internal error.
	ErrUnavailable = errors.New("the store is unavailable")
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

// FieldError is a refusal as a value: the sentinel it matches (Err: ErrInvalid,
// ErrConflict, ErrForbidden, ...), the field of the request it concerns (Field: the
// parameter's name, one of the Field constants, or "" when the refusal concerns the
// request as a whole), and the reason in the user's words (Reason), which does not
// repeat the field's name as a prefix.
// Every protocol edge maps it once: the HTTP API to a problem detail naming the field,
// the ad-hoc commands to a note naming the field by its label, the command line to an
// "Error: --flag: …" line.
// Several refusals of one submission are joined (errors.Join); FieldErrors returns them
// all.
type FieldError struct {
	// Err is the sentinel the refusal matches with errors.Is.
	Err error
	// Field names the parameter concerned; "" for the request as a whole.
	Field string
	// Reason says what was wrong and what is accepted.
	Reason string
}

// Error implements error: "field: reason", or the reason alone without a field.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Unwrap returns the sentinel, so that errors.Is(err, ErrInvalid) holds for a refusal
// of invalid input.
func (e *FieldError) Unwrap() error { return e.Err }

// The fields refusals name: the parameters of the HTTP API and the JSON members of the
// invite object; the ad-hoc commands and the command line map them to their labels
// and flags.
const (
	FieldTTL       = "ttl"        // an invite's lifetime
	FieldMaxUses   = "max_uses"   // how many accounts an invite can make
	FieldNote      = "note"       // an invite's note
	FieldUsername  = "username"   // the fixed username, or the account of a reset invite
	FieldGroup     = "group"      // the groups new accounts join
	FieldExpiresAt = "expires_at" // an invite's expiry, when changed
	FieldKind      = "kind"       // an invite's kind
	FieldInviter   = "inviter"    // a contact invite's inviter
	FieldStatus    = "status"     // a list's status
	FieldLimit     = "limit"      // a list's page size
	FieldCursor    = "cursor"     // a list's cursor
	FieldKey       = "key"        // an API key credential
	FieldName      = "name"       // a key's name
	FieldExpires   = "expires"    // a key's lifetime
	FieldMaxTTL    = "max_ttl"    // a key's longest invite lifetime
	FieldRate      = "rate"       // a key's rate
	FieldPurpose   = "purpose"    // what a redemption is for
	FieldDomain    = "domain"     // an XMPP domain
	FieldState     = "state"      // an account list's state
	FieldApproval  = "approval"   // whether an invite's accounts await approval
	FieldAction    = "action"     // a bulk action
	FieldDepth     = "depth"      // how deep a tree goes
	FieldJID       = "jid"        // an account's address
)

// Refuse returns a refusal of field matching is, with the reason given by format and
// args; string arguments, which echo the requester's input, are clipped to maxEcho
// bytes so that a huge input does not make a huge error.
func Refuse(is error, field, format string, args ...any) error {
	for i, a := range args {
		if s, ok := a.(string); ok && len(s) > maxEcho {
			args[i] = strings.ToValidUTF8(s[:maxEcho], "") + "…"
		}
	}
	return &FieldError{Err: is, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// InField returns err with every refusal in it that names no field naming field
// instead; other errors, and refusals that name a field, are kept as they are.
// It turns the refusal of a value parsed without its context (a duration, a rate)
// into the refusal of the parameter it was given for.
func InField(field string, err error) error {
	switch e := err.(type) {
	case nil:
		return nil
	case *FieldError:
		if e.Field != "" {
			return e
		}
		c := *e
		c.Field = field
		return &c
	case interface{ Unwrap() []error }:
		errs := e.Unwrap()
		out := make([]error, len(errs))
		for i, x := range errs {
			out[i] = InField(field, x)
		}
		return errors.Join(out...)
	}
	if fe, ok := errors.AsType[*FieldError](err); ok && fe.Field == "" {
		return InField(field, fe)
	}
	return err
}

// FieldErrors returns every refusal in err's tree, in order: one for a single
// refusal, several for refusals joined with errors.Join; none for an error that holds
// no refusal (a store failure).
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *FieldError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

// invalidf returns a refusal matching ErrInvalid that names no field yet (see InField).
func invalidf(format string, args ...any) error { return Refuse(ErrInvalid, "", format, args...) }

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
// "expired", "revoked", "used-up", "inviter-inactive", "forbidden", "invalid", "unknown-host",
// "rate-limited", "quota", "conflict", "unavailable", or "error" for anything else (a
// store failure).
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrRevoked):
		return "revoked"
	case errors.Is(err, ErrUsedUp):
		return "used-up"
	case errors.Is(err, ErrInviterInactive):
		return "inviter-inactive"
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
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

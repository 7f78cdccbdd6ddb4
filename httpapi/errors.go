package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// statusError is a failure carrying the HTTP status to answer with.
// Handlers return it and writeError alone turns it into a response.
type statusError struct {
	status     int
	detail     string        // for the client; never holds a secret or an internal error
	errors     []FieldError  // the refusals one by one, when there are some
	retryAfter time.Duration // sent as Retry-After when positive
	err        error         // the cause, for the log only; may be nil
}

// Error implements error.
func (e *statusError) Error() string {
	s := "httpapi: " + strconv.Itoa(e.status) + " " + http.StatusText(e.status)
	if e.detail != "" {
		s += ": " + e.detail
	}
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *statusError) Unwrap() error { return e.err }

// writeError answers with the status err carries, or the one coreError gives an
// error of the core, and returns the status written, through WriteError.
// A 500 says nothing of its cause, which goes to the log instead.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error, ep endpoint) int {
	var e *statusError
	if !errors.As(err, &e) {
		e = coreError(err)
	}
	detail := e.detail
	switch {
	case e.status == http.StatusServiceUnavailable:
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "invites api unavailable", slog.Any("err", e.err))
	case e.status >= 500:
		detail = "internal error"
		level := slog.LevelError
		if errors.Is(e.err, context.Canceled) || r.Context().Err() != nil {
			level = slog.LevelInfo // the client left; not a fault of ours
		}
		h.log.LogAttrs(r.Context(), level, "invites api failed", slog.Any("err", e.err))
	}
	if e.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", ep.methods())
	}
	WriteError(w, r, &Error{Status: e.status, Detail: detail, Errors: e.errors, RetryAfter: e.retryAfter})
	return e.status
}

// coreError maps an error of the core to the status and problem details answered:
// the one place where the core's errors become HTTP.
// Refusals (core.FieldError) are each listed in the problem's "errors" with the
// parameter they concern, and joined in its detail: 400 when one of them is invalid
// input, else 409 for a change the invite's state refuses (or 403).
func coreError(err error) *statusError {
	var rl *core.RateLimitError
	switch {
	case errors.As(err, &rl):
		return &statusError{status: http.StatusTooManyRequests, retryAfter: rl.RetryAfter,
			detail: "this API key's rate limit is exceeded"}
	case errors.Is(err, core.ErrRateLimited):
		return &statusError{status: http.StatusTooManyRequests, retryAfter: time.Second,
			detail: "this API key's rate limit is exceeded"}
	case errors.Is(err, core.ErrUnavailable):
		return &statusError{status: http.StatusServiceUnavailable, retryAfter: unavailableRetry,
			detail: "the invite store is unavailable; try again shortly", err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &statusError{status: http.StatusServiceUnavailable, retryAfter: unavailableRetry,
			detail: "the request took too long; try again shortly", err: err}
	}
	if refusals := core.FieldErrors(err); len(refusals) > 0 {
		e := &statusError{status: http.StatusConflict}
		details := make([]string, len(refusals))
		for i, r := range refusals {
			e.errors = append(e.errors, FieldError{Field: r.Field, Detail: r.Reason})
			details[i] = r.Error()
			switch {
			case errors.Is(r, core.ErrInvalid):
				e.status = http.StatusBadRequest
			case errors.Is(r, core.ErrForbidden) && e.status == http.StatusConflict:
				e.status = http.StatusForbidden
			}
		}
		e.detail = strings.Join(details, "; ")
		return e
	}
	switch {
	case errors.Is(err, core.ErrNotFound):
		return &statusError{status: http.StatusNotFound, detail: "no such invite"}
	case errors.Is(err, core.ErrUnknownHost):
		return &statusError{status: http.StatusForbidden, detail: "this API key's host is not served here"}
	case errors.Is(err, core.ErrForbidden), errors.Is(err, core.ErrExpired):
		return &statusError{status: http.StatusForbidden, detail: "invalid API key"}
	case errors.Is(err, core.ErrInvalid), errors.Is(err, core.ErrConflict):
		// A refusal without a field value: its text is the reason.
		status := http.StatusBadRequest
		if errors.Is(err, core.ErrConflict) {
			status = http.StatusConflict
		}
		return &statusError{status: status, detail: err.Error()}
	}
	return &statusError{status: http.StatusInternalServerError, err: err}
}

// unavailableRetry is the Retry-After of a 503 while the store is away: the store's
// own reconnection is tried at about this pace.
const unavailableRetry = 2 * time.Second

// fieldError returns a refusal of the request's parameter field, for the handler's own
// checks of syntax; the core adds its own refusals to them (core.InviteSpec.Refused).
func fieldError(field, format string, args ...any) error {
	return core.Refuse(core.ErrInvalid, field, format, args...)
}

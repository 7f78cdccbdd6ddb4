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
	"github.com/xmpp-invites/invites/internal/problem"
)

// statusError is a failure carrying the HTTP status to answer with.
// Handlers return it and writeError alone turns it into a response.
type statusError struct {
	status     int
	detail     string        // for the client; never holds a secret or an internal error
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

// writeError answers with the status err carries, or 500 for any other error, and
// returns the status written, through the one problem writer (internal/problem).
// A 500 says nothing of its cause, which goes to the log instead.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error, ep endpoint) int {
	var e *statusError
	if !errors.As(err, &e) {
		e = &statusError{status: http.StatusInternalServerError, err: err}
	}
	detail := e.detail
	if e.status >= 500 {
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
	problem.Write(w, r, problem.Details{Status: e.status, Detail: detail, RetryAfter: e.retryAfter})
	return e.status
}

// Reason returns the reason a core error gives, for a client or an operator: the
// core's errors are the reason itself, in the requester's words, perhaps wrapped with
// what was being done ("changing invite: …"), which the reader does not need.
func Reason(err error) string {
	e := err
	for {
		u := errors.Unwrap(e)
		if u == nil || isSentinel(u) {
			break
		}
		e = u
	}
	msg := e.Error()
	for _, s := range []error{core.ErrInvalid, core.ErrConflict} {
		if i := strings.LastIndex(msg, s.Error()+": "); i >= 0 {
			msg = msg[i+len(s.Error())+2:]
		}
	}
	if msg == "" {
		return "invalid parameter"
	}
	return msg
}

// isSentinel reports whether err is one of the core's bare sentinels, whose text says
// nothing the client needs.
func isSentinel(err error) bool {
	switch err {
	case core.ErrInvalid, core.ErrConflict, core.ErrNotFound, core.ErrForbidden, core.ErrExpired, core.ErrUnknownHost, core.ErrQuota:
		return true
	}
	return false
}

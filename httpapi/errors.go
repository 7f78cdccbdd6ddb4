package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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

// problem is an RFC 9457 problem details object.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// writeError answers with the status err carries, or 500 for any other error, and
// returns the status written.
// The body is application/problem+json when the client accepts JSON, short text
// otherwise; a 500 says nothing of its cause, which goes to the log instead.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) int {
	var e *statusError
	if !errors.As(err, &e) {
		e = &statusError{status: http.StatusInternalServerError, err: err}
	}
	detail := truncate(e.detail, maxDetail)
	if e.status >= 500 {
		detail = "internal error"
		level := slog.LevelError
		if errors.Is(e.err, context.Canceled) || r.Context().Err() != nil {
			level = slog.LevelInfo // the client left; not a fault of ours
		}
		h.log.LogAttrs(r.Context(), level, "invites api failed", slog.Any("err", e.err))
	}
	hdr := w.Header()
	hdr.Del("Location")
	if e.retryAfter > 0 {
		hdr.Set("Retry-After", strconv.FormatInt(retrySeconds(e.retryAfter), 10))
	}
	if e.status == http.StatusMethodNotAllowed {
		hdr.Set("Allow", allowedMethods)
	}
	var body []byte
	if accepts(r.Header, "application/json") || accepts(r.Header, "application/problem+json") {
		body, _ = json.Marshal(problem{ // cannot fail: strings and an int
			Type:   "about:blank",
			Title:  http.StatusText(e.status),
			Status: e.status,
			Detail: detail,
		})
		hdr.Set("Content-Type", "application/problem+json")
	} else {
		if detail == "" {
			detail = strings.ToLower(http.StatusText(e.status))
		}
		body = []byte(detail)
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
	}
	body = append(body, '\n')
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	_, _ = w.Write(body) // a failed write means the client left; nothing to tell it
	return e.status
}

// maxDetail bounds the detail of an error body, which may quote the request.
const maxDetail = 200

// truncate cuts s to at most n bytes, on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// retrySeconds rounds a wait up to whole seconds, at least one, as Retry-After wants.
func retrySeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// invalidDetail returns the reason of a core.ErrInvalid error, without its prefix.
// The core's errors are the reason itself.
func invalidDetail(err error) string {
	const marker = "invalid input: "
	msg := err.Error()
	if i := strings.LastIndex(msg, marker); i >= 0 {
		return msg[i+len(marker):]
	}
	if msg == "" {
		return "invalid parameter"
	}
	return msg
}

package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinels that an *Error matches with errors.Is, by its status.
var (
	// ErrBadRequest: the request was refused for what it said (400), or for its size
	// or its body's type (413, 414, 415, 431).
	ErrBadRequest = errors.New("bad request")
	// ErrForbidden: the API key is missing, malformed, unknown, wrong, expired or
	// deleted (403).
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: no such invite for this key, or no such endpoint (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the invite's state refuses the change, or the fixed username is an
	// account already (409).
	ErrConflict = errors.New("conflict")
	// ErrRateLimited: the key's rate or a failed-authentication budget is spent (429);
	// Error.RetryAfter says when to try again.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnavailable: the plugin or its store is away (503); Error.RetryAfter says
	// when to try again.
	ErrUnavailable = errors.New("unavailable")
)

// Error is an error answer of the API as a value: what the Client's methods return
// for a status that is not a success, and what WriteError writes.
type Error struct {
	// Status is the HTTP status, 400 to 599.
	Status int
	// Detail says what was wrong, in the user's words; with Errors, it joins them as
	// "field: detail; field: detail". It never holds a secret.
	Detail string
	// Errors are the refusals of the request one by one (400, 409), each naming the
	// parameter it concerns.
	Errors []FieldError
	// RetryAfter is how long to wait before trying again (429, 503); zero when the
	// answer does not say.
	RetryAfter time.Duration
}

// Error implements error: the status and the detail, such as
// "404 Not Found: no such invite".
func (e *Error) Error() string {
	s := strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Is reports whether the sentinel target names e's status (see ErrBadRequest and the
// others).
func (e *Error) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		switch e.Status {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusRequestURITooLong,
			http.StatusUnsupportedMediaType, http.StatusRequestHeaderFieldsTooLarge:
			return true
		}
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrUnavailable:
		return e.Status == http.StatusServiceUnavailable
	}
	return false
}

// FieldError is one refusal of a request: the parameter it concerns and what was
// wrong with it.
type FieldError struct {
	// Field is the parameter (ttl, username, max_uses, note, group, redirect,
	// expires_at, status, limit, cursor, ...); empty when the refusal concerns the
	// request as a whole (a revoked invite).
	Field string `json:"field,omitempty"`
	// Detail says what was wrong with it and what is accepted.
	Detail string `json:"detail"`
}

// Problem is the body of an error answer for a client that accepts JSON: problem
// details (RFC 9457), as application/problem+json.
type Problem struct {
	Type   string       `json:"type"`             // always "about:blank"
	Title  string       `json:"title"`            // the status's text
	Status int          `json:"status"`           // the HTTP status
	Detail string       `json:"detail,omitempty"` // as Error.Detail
	Errors []FieldError `json:"errors,omitempty"` // as Error.Errors (an extension member)
}

// Bounds of what WriteError writes, since a detail may quote the request.
const (
	maxDetailBytes = 1024 // the detail, and each refusal's
	maxFieldBytes  = 64   // a refusal's field name
	maxErrors      = 32   // the refusals listed
)

// WriteError answers r with e, as every error answer of the API is written:
// application/problem+json (a Problem) when the client accepts application/json or
// application/problem+json with a non-zero quality, a line of text (the detail)
// otherwise; with Cache-Control: no-store, X-Content-Type-Options: nosniff,
// Content-Length, and Retry-After in whole seconds (at least 1) when e has one.
// Header fields set on w before (CORS, Allow) are kept; a Location is removed.
func WriteError(w http.ResponseWriter, r *http.Request, e *Error) {
	detail := truncate(e.Detail, maxDetailBytes)
	h := w.Header()
	h.Del("Location")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(seconds(e.RetryAfter), 10))
	}
	var b []byte
	if accepts(r.Header, "application/json") || accepts(r.Header, "application/problem+json") {
		p := Problem{Type: "about:blank", Title: http.StatusText(e.Status), Status: e.Status, Detail: detail}
		for _, fe := range e.Errors[:min(len(e.Errors), maxErrors)] {
			p.Errors = append(p.Errors, FieldError{Field: truncate(fe.Field, maxFieldBytes), Detail: truncate(fe.Detail, maxDetailBytes)})
		}
		b, _ = json.Marshal(p) // strings and an int: cannot fail
		h.Set("Content-Type", "application/problem+json")
	} else {
		if detail == "" {
			detail = strings.ToLower(http.StatusText(e.Status))
		}
		b = []byte(detail)
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	b = append(b, '\n')
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(b) // a failed write means the client left; nothing to tell it
}

// accepts reports whether the Accept fields of h name mediaType (case-insensitively)
// with a non-zero quality; wildcards such as */* do not count.
func accepts(h http.Header, mediaType string) bool {
	for _, field := range h.Values("Accept") {
		for elem := range strings.SplitSeq(field, ",") {
			mt, rest, _ := strings.Cut(elem, ";")
			if !strings.EqualFold(strings.TrimSpace(mt), mediaType) {
				continue
			}
			if qualityNonZero(rest) {
				return true
			}
		}
	}
	return false
}

// qualityNonZero reports whether the parameters of an Accept element leave its weight
// above zero (RFC 9110 §12.4.2); a malformed weight counts as 1.
func qualityNonZero(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		name, value, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return true
		}
		return q > 0
	}
	return true
}

// seconds rounds a wait up to whole seconds, at least one, as Retry-After wants.
func seconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

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

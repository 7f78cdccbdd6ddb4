package problem

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Details is one error response.
type Details struct {
	// Status is the HTTP status code. Required.
	Status int
	// Detail explains this occurrence to the client, in its words; it must never hold
	// a secret or an internal error. Empty means the status text.
	Detail string
	// Type is a URI naming the kind of problem; empty means "about:blank".
	Type string
	// RetryAfter, when positive, is sent as Retry-After in whole seconds (at least 1).
	RetryAfter time.Duration
	// Errors, when not empty, are the refusals of the request one by one, sent as the
	// extension member "errors" (RFC 9457 §3.2): each names the parameter it concerns
	// and says what was wrong with it. Detail then joins them.
	Errors []FieldDetail
}

// FieldDetail is one refusal of a request: the parameter it concerns ("" when it
// concerns the request as a whole) and the reason.
type FieldDetail struct {
	Field  string `json:"field,omitempty"`
	Detail string `json:"detail"`
}

// MaxDetail bounds the detail written, and each of Errors, in bytes, since they may
// quote the request.
const MaxDetail = 1024

// maxErrors bounds how many of Errors are written.
const maxErrors = 32

// body is the RFC 9457 object.
type body struct {
	Type   string        `json:"type"`
	Title  string        `json:"title"`
	Status int           `json:"status"`
	Detail string        `json:"detail,omitempty"`
	Errors []FieldDetail `json:"errors,omitempty"`
}

// Write answers r with d: application/problem+json when the client accepts
// application/json or application/problem+json (with a non-zero quality), a line of
// text otherwise; with Cache-Control: no-store, X-Content-Type-Options: nosniff,
// Content-Length, and Retry-After when d has one.
// Header fields set on w before (CORS, Allow) are kept; a Location is removed.
func Write(w http.ResponseWriter, r *http.Request, d Details) {
	detail := Truncate(d.Detail, MaxDetail)
	h := w.Header()
	h.Del("Location")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if d.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(Seconds(d.RetryAfter), 10))
	}
	var b []byte
	if Accepts(r.Header, "application/json") || Accepts(r.Header, "application/problem+json") {
		typ := d.Type
		if typ == "" {
			typ = "about:blank"
		}
		var errs []FieldDetail
		for _, e := range d.Errors[:min(len(d.Errors), maxErrors)] {
			errs = append(errs, FieldDetail{Field: Truncate(e.Field, 64), Detail: Truncate(e.Detail, MaxDetail)})
		}
		b, _ = json.Marshal(body{Type: typ, Title: http.StatusText(d.Status), Status: d.Status, Detail: detail, Errors: errs}) // strings and an int: cannot fail
		h.Set("Content-Type", "application/problem+json")
	} else {
		if detail == "" {
			detail = strings.ToLower(http.StatusText(d.Status))
		}
		b = []byte(detail)
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	b = append(b, '\n')
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(d.Status)
	_, _ = w.Write(b) // a failed write means the client left; nothing to tell it
}

// Accepts reports whether the Accept fields of h name mediaType (case-insensitively)
// with a non-zero quality; wildcards such as */* do not count.
func Accepts(h http.Header, mediaType string) bool {
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

// Seconds rounds a wait up to whole seconds, at least one, as Retry-After wants.
func Seconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// Truncate cuts s to at most n bytes, on a rune boundary, marking the cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/xmpp-invites/invites/internal/core"
)

// redacted replaces a secret in a logged URL.
const redacted = "REDACTED"

// redactURL returns the request's path and query for a log line, with the value of
// every key parameter replaced by REDACTED, however its name is escaped or cased.
// A parameter that is itself shaped like an API key ("?ID/SECRET", a common slip) is
// redacted whole.
func redactURL(r *http.Request) string {
	if r.URL == nil {
		return ""
	}
	path := r.URL.EscapedPath()
	if r.URL.RawQuery == "" {
		return path
	}
	return path + "?" + redactQuery(r.URL.RawQuery)
}

// redactQuery redacts the key parameters of a raw query string; both '&' and ';'
// separate parameters here, so that no parsing rule hides a key from it.
func redactQuery(q string) string {
	var b strings.Builder
	b.Grow(len(q))
	for i := 0; i <= len(q); {
		end := strings.IndexAny(q[i:], "&;")
		if end < 0 {
			end = len(q)
		} else {
			end += i
		}
		b.WriteString(redactParam(q[i:end]))
		if end < len(q) {
			b.WriteByte(q[end])
		}
		i = end + 1
	}
	return b.String()
}

// redactParam redacts one "name=value" of a query string if it may hold a key.
func redactParam(p string) string {
	name, _, hasValue := strings.Cut(p, "=")
	un, err := url.QueryUnescape(name)
	if err != nil {
		un = name
	}
	switch {
	case strings.EqualFold(strings.TrimSpace(un), "key"):
		if !hasValue {
			return p
		}
		return name + "=" + redacted
	case looksLikeKey(p):
		return redacted
	}
	return p
}

// looksLikeKey reports whether a query parameter, decoded or not, contains something
// shaped like an API key ID/SECRET.
func looksLikeKey(p string) bool {
	if !strings.Contains(p, "/") && !strings.Contains(strings.ToLower(p), "%2f") {
		return false
	}
	if un, err := url.QueryUnescape(p); err == nil {
		p = un
	}
	for _, part := range strings.FieldsFunc(p, func(r rune) bool { return r == '=' || r == ' ' }) {
		if _, _, err := core.ParseKey(part); err == nil {
			return true
		}
	}
	return false
}

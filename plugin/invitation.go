package plugin

import (
	"net/url"
	"strings"
)

// Bounds of what InviteToken takes for a token: base64url, as every token the plugin
// makes is, and long enough not to be a word.
const (
	minTokenLen = 16
	maxTokenLen = 128
)

// InviteToken finds the token in what a person holds of an invite: its page URL
// (BASE/invite?TOKEN, PathInvite; BASE/invite/TOKEN; BASE/register?t=TOKEN, the page's
// registration form), its xmpp: URI (the preauth parameter, RFC 5122 query
// parameters separated by ';') or the bare token, with blanks around it. The token is
// base64url, 16 to 128 characters: ok is false for anything else, and whether the
// token is valid is for CheckInvite to say.
// Hosts call it on what a client typed into the "invitation" field of an in-band
// registration form.
func InviteToken(s string) (token string, ok bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">") // as mail clients quote links
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "xmpp:"):
		token = xmppToken(s[len("xmpp:"):])
	case strings.HasPrefix(lower, "https://"), strings.HasPrefix(lower, "http://"):
		token = pageToken(s)
	default:
		token = s
	}
	if !isToken(token) {
		return "", false
	}
	return token, true
}

// xmppToken returns the preauth parameter of the rest of an xmpp: URI, "" when there
// is none: keys are compared in any case and values percent-decoded, as
// Conversations does.
func xmppToken(rest string) string {
	_, query, ok := strings.Cut(rest, "?")
	if !ok {
		return ""
	}
	query, _, _ = strings.Cut(query, "#")
	for p := range strings.SplitSeq(query, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(k, "preauth") {
			continue
		}
		if dec, err := url.PathUnescape(v); err == nil {
			return dec
		}
		return ""
	}
	return ""
}

// pageToken returns the token of an invite page's URL, "" when it is not one.
func pageToken(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	path := strings.TrimSuffix(u.Path, "/")
	switch {
	case strings.HasSuffix(path, PathInvite) && u.RawQuery != "":
		// BASE/invite?TOKEN: the whole query is the token.
		if tok, err := url.QueryUnescape(u.RawQuery); err == nil {
			return tok
		}
	case strings.HasSuffix(path, PathRegister):
		return u.Query().Get("t")
	default:
		// BASE/invite/TOKEN, as some pages of other servers are.
		dir, last, ok := cutLast(path, "/")
		if ok && strings.HasSuffix(dir, PathInvite) {
			return last
		}
	}
	return ""
}

// cutLast slices s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// isToken reports whether s has the shape of an invite token: base64url characters,
// minTokenLen to maxTokenLen of them.
func isToken(s string) bool {
	if len(s) < minTokenLen || len(s) > maxTokenLen {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

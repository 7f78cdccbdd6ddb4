package page

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/password"
)

// Bounds of the registration form's fields, in bytes.
const (
	maxTokenLen    = 128
	maxUsernameLen = 1023                   // the longest localpart RFC 7622 allows
	maxPasswordLen = 4 * password.MaxLength // the policy counts characters
	maxCSRFLen     = 64
	maxLangLen     = 35
	maxNoteLen     = 4 * core.MaxNoteLen // bytes; the core counts its characters
)

// registerForm is a parsed POST /register body.
type registerForm struct {
	Token           string // t
	Username        string // username, without surrounding spaces
	Password        string // password, as typed
	PasswordConfirm string // password_confirm, as typed
	CSRF            string // csrf
	Lang            string // lang, the language the form was shown in
	Note            string // note, for the administrators who approve the account
}

// formError is a form the page refuses, with the message key telling the visitor why.
type formError struct{ key string }

func (e *formError) Error() string { return "malformed form: " + e.key }

// parseRegisterForm reads an application/x-www-form-urlencoded body.
// Each known field may appear at most once, within its bound, as valid UTF-8 without
// NUL, and the token, form token and language without spaces or control characters;
// unknown fields are ignored.
// On error it still returns the fields it could read, so that the form can be shown
// again; it never fails on a missing field: the handler says which one is missing.
func parseRegisterForm(body []byte) (registerForm, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return registerForm{}, &formError{"error.malformed"}
	}
	var f registerForm
	var ferr *formError
	fail := func(key string) {
		if ferr == nil {
			ferr = &formError{key}
		}
	}
	fields := []struct {
		name  string
		dst   *string
		max   int
		plain bool // no control characters or spaces at all
		long  string
	}{
		{"t", &f.Token, maxTokenLen, true, "error.malformed"},
		{"username", &f.Username, maxUsernameLen, false, "error.username_invalid"},
		{"password", &f.Password, maxPasswordLen, false, "error.password_long"},
		{"password_confirm", &f.PasswordConfirm, maxPasswordLen, false, "error.password_long"},
		{"csrf", &f.CSRF, maxCSRFLen, true, "error.malformed"},
		{"lang", &f.Lang, maxLangLen, true, "error.malformed"},
		{"note", &f.Note, maxNoteLen, false, "error.note_invalid"},
	}
	for _, fd := range fields {
		vs := vals[fd.name]
		switch {
		case len(vs) == 0:
			continue
		case len(vs) > 1:
			fail("error.malformed")
		case len(vs[0]) > fd.max:
			fail(fd.long)
		case !utf8.ValidString(vs[0]) || strings.ContainsRune(vs[0], 0):
			fail("error.malformed")
		case fd.plain && strings.IndexFunc(vs[0], func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
			fail("error.malformed")
		default:
			*fd.dst = vs[0]
		}
	}
	f.Username = strings.TrimSpace(f.Username)
	f.Note = strings.Join(strings.Fields(f.Note), " ") // a text area's lines, one line
	if strings.IndexFunc(f.Username, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
		fail("error.username_invalid")
	}
	if ferr != nil {
		return f, ferr
	}
	return f, nil
}

// validToken reports whether s looks like an invite token: 16 to 128 characters of
// the base64url alphabet. Anything else is dead without asking the store.
func validToken(s string) bool {
	if len(s) < 16 || len(s) > maxTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

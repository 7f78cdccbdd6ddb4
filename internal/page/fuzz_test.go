package page

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseRegisterForm feeds the form parser any body: it never panics, what it
// accepts is within bounds and well formed, and an accepted form survives encoding
// and parsing again unchanged. Seeds are in testdata/fuzz/FuzzParseRegisterForm.
func FuzzParseRegisterForm(f *testing.F) {
	f.Add("t=AAAAAAAAAAAAaccountTokenXXXXXXXXXXXX&username=romeo&password=correct+horse&password_confirm=correct+horse&csrf=1800000000.AAAAAAAAAAAAAAAAAAAAAA&lang=de")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := parseRegisterForm([]byte(body))
		if err != nil {
			var fe *formError
			if !errors.As(err, &fe) || fe.key == "" {
				t.Fatalf("error %T %v, want a *formError with a message key", err, err)
			}
			return
		}
		for name, v := range map[string]struct {
			s     string
			max   int
			plain bool
		}{
			"t":                {form.Token, maxTokenLen, true},
			"username":         {form.Username, maxUsernameLen, false},
			"password":         {form.Password, maxPasswordLen, false},
			"password_confirm": {form.PasswordConfirm, maxPasswordLen, false},
			"csrf":             {form.CSRF, maxCSRFLen, true},
			"lang":             {form.Lang, maxLangLen, true},
		} {
			if len(v.s) > v.max || !utf8.ValidString(v.s) || strings.ContainsRune(v.s, 0) {
				t.Fatalf("%s = %q accepted", name, v.s)
			}
			if v.plain && strings.ContainsAny(v.s, " \t\r\n") {
				t.Fatalf("%s = %q accepted with spaces", name, v.s)
			}
		}
		if strings.TrimSpace(form.Username) != form.Username {
			t.Fatalf("username %q not trimmed", form.Username)
		}
		again, err := parseRegisterForm([]byte(url.Values{
			"t": {form.Token}, "username": {form.Username}, "password": {form.Password},
			"password_confirm": {form.PasswordConfirm}, "csrf": {form.CSRF}, "lang": {form.Lang},
		}.Encode()))
		if err != nil || again != form {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, form)
		}
	})
}

// fuzzHost is an Invites and Registrar that knows one token and refuses the rest.
type fuzzHost struct{}

func (fuzzHost) Invite(_ context.Context, token string) (Invite, error) {
	switch token {
	case "AAAAAAAAAAAAaccountTokenXXXXXXXXXXXX":
		return Invite{Host: "example.org", URI: "xmpp:example.org?register;preauth=" + token}, nil
	case "AAAAAAAAAAAAapprovalTokenXXXXXXXXXXX": // its form takes a note
		return Invite{Host: "example.org", URI: "xmpp:example.org?register;preauth=" + token, Approval: true}, nil
	}
	return Invite{}, ErrInviteDead
}

func (fuzzHost) Register(_ context.Context, r Registration) (Account, error) {
	if r.Username == "taken" {
		return Account{}, ErrNameTaken
	}
	return Account{JID: r.Username + "@" + r.Host, Pending: r.Approval}, nil
}

// FuzzRegisterPost posts any body to /register: the handler never panics and answers
// one of the documented statuses. Seeds are in testdata/fuzz/FuzzRegisterPost.
func FuzzRegisterPost(f *testing.F) {
	f.Add("t=AAAAAAAAAAAAaccountTokenXXXXXXXXXXXX&username=romeo&password=correct+horse&password_confirm=correct+horse&csrf=x")
	h, err := New(fuzzHost{}, fuzzHost{}, Options{FailedAttempts: -1, CSRFKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		f.Fatal(err)
	}
	ok := map[int]bool{200: true, 400: true, 403: true, 404: true, 409: true, 413: true}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if !ok[w.Code] {
			t.Fatalf("status %d", w.Code)
		}
		if w.Code != http.StatusOK && strings.Contains(w.Body.String(), "registered-jid") {
			t.Fatalf("status %d with a success page", w.Code)
		}
	})
}

// FuzzAcceptsGzip: any Accept-Encoding header is read without a panic, and gzip is
// only taken when the header names it or "*".
func FuzzAcceptsGzip(f *testing.F) {
	for _, s := range []string{"gzip", "gzip;q=0", "deflate, gzip;q=1.0, *;q=0.5", "*;q=0", "br", "gzip;q=nope", ",,;=;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if acceptsGzip(h) && !strings.Contains(strings.ToLower(h), "gzip") && !strings.Contains(h, "*") {
			t.Fatalf("%q takes gzip", h)
		}
	})
}

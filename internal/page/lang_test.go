package page_test

import (
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/page"
	"github.com/xmpp-invites/invites/internal/password"
)

// textRE finds the text between tags; attrRE the attributes a person sees or hears.
var (
	textRE = regexp.MustCompile(`>([^<]+)<`)
	attrRE = regexp.MustCompile(`\s(?:aria-label|alt|title|placeholder)="([^"]*)"`)
)

// visibleStrings returns what a person reads or hears of a page: its text nodes and
// labelling attributes, unescaped and trimmed, without the style sheet.
func visibleStrings(body string) []string {
	body = styleRE.ReplaceAllString(body, "<style></style>")
	var out []string
	for _, re := range []*regexp.Regexp{textRE, attrRE} {
		for _, m := range re.FindAllStringSubmatch(body, -1) {
			if s := strings.TrimSpace(html.UnescapeString(m[1])); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// pageCase is one page of the test of every page in every language: how to get it.
type pageCase struct {
	name string
	get  func(f *fixture, lang string) response
}

// everyPage lists every page the handler answers, in each state a visitor meets.
func everyPage() []pageCase {
	invite := func(token, platform string) func(*fixture, string) response {
		return func(f *fixture, lang string) response {
			return f.get("/invite?" + token + "&platform=" + platform + "&lang=" + lang)
		}
	}
	var cases []pageCase
	for _, p := range []string{"android", "ios", "windows", "macos", "linux", "all"} {
		cases = append(cases, pageCase{"invite-" + p, invite(tokAccount, p)})
	}
	cases = append(cases,
		pageCase{"invite-fixed", invite(tokFixed, "android")},
		pageCase{"invite-contact", invite(tokContact, "linux")},
		pageCase{"invite-contact-android", invite(tokContact, "android")},
		pageCase{"invite-contact-register", invite(tokContactR, "linux")},
		pageCase{"invite-reset", invite(tokReset, "all")},
		pageCase{"register", func(f *fixture, lang string) response { return f.get("/register?t=" + tokAccount + "&lang=" + lang) }},
		pageCase{"register-fixed", func(f *fixture, lang string) response { return f.get("/register?t=" + tokFixed + "&lang=" + lang) }},
		pageCase{"register-reset", func(f *fixture, lang string) response { return f.get("/register?t=" + tokReset + "&lang=" + lang) }},
		pageCase{"register-refused", func(f *fixture, lang string) response {
			return f.post(tokAccount, map[string]string{"username": "aaa", "password": "aaa", "password_confirm": "aaa", "lang": lang})
		}},
		pageCase{"register-mismatch", func(f *fixture, lang string) response {
			return f.post(tokAccount, map[string]string{"username": "romeo", "password": "correct horse", "password_confirm": "x", "lang": lang})
		}},
		pageCase{"register-taken", func(f *fixture, lang string) response {
			return f.post(tokAccount, map[string]string{"username": "nurse", "password": "correct horse", "password_confirm": "correct horse", "lang": lang})
		}},
		pageCase{"success", func(f *fixture, lang string) response {
			return f.post(tokAccount, map[string]string{"username": "romeo", "password": "correct horse", "password_confirm": "correct horse", "lang": lang})
		}},
		pageCase{"success-reset", func(f *fixture, lang string) response {
			return f.post(tokReset, map[string]string{"password": "correct horse", "password_confirm": "correct horse", "lang": lang})
		}},
		pageCase{"dead", func(f *fixture, lang string) response { return f.get("/invite?" + tokUnknown + "&lang=" + lang) }},
		pageCase{"invite-approval", invite(tokApproval, "linux")},
		pageCase{"register-approval", func(f *fixture, lang string) response { return f.get("/register?t=" + tokApproval + "&lang=" + lang) }},
		pageCase{"register-note-refused", func(f *fixture, lang string) response {
			return f.post(tokApproval, map[string]string{"username": "romeo", "password": "correct horse", "password_confirm": "correct horse",
				"note": strings.Repeat("romeo@example.org ", 20), "lang": lang}) // echoed: an address
		}},
		pageCase{"success-pending", func(f *fixture, lang string) response {
			return f.post(tokApproval, map[string]string{"username": "romeo", "password": "correct horse", "password_confirm": "correct horse",
				"note": "Romeo, Juliet's friend", "lang": lang})
		}},
		pageCase{"inviter-inactive", func(f *fixture, lang string) response { return f.get("/invite?" + tokInactive + "&lang=" + lang) }},
		pageCase{"not-found", func(f *fixture, lang string) response { return f.get("/nothing?lang=" + lang) }},
		pageCase{"not-registrable", func(f *fixture, lang string) response { return f.get("/register?t=" + tokContact + "&lang=" + lang) }},
		pageCase{"method", func(f *fixture, lang string) response {
			return f.do(request{method: http.MethodDelete, target: "/invite?" + tokAccount + "&lang=" + lang})
		}},
	)
	return cases
}

// TestEveryPageTranslated renders every page in every shipped language: no German or
// French page shows a string that its English twin shows too, unless it is a name
// (of a client, a store, a platform, a language, an address); "Download" staying
// English on the French page (issue 22) is such a string. No page shows a message key.
func TestEveryPageTranslated(t *testing.T) {
	names := map[string]bool{"English": true, "Deutsch": true, "Français": true}
	for _, c := range page.DefaultClients() {
		names[c.Name] = true
		for _, l := range c.Links {
			if !strings.EqualFold(l.Label, "download") && !strings.EqualFold(l.Label, "website") {
				names[l.Label] = true // a store's name
			}
		}
	}
	for _, p := range []string{"Android", "Windows", "macOS", "Linux"} {
		names[p] = true
	}
	isName := func(s string) bool {
		for _, part := range strings.Split(s, ", ") {
			part = strings.TrimSpace(part)
			if !names[part] && !strings.Contains(part, "example.org") && !strings.HasPrefix(part, "http") {
				return false
			}
		}
		return true
	}
	keyRE := regexp.MustCompile(`^(invite|step|button|web|clients?|platform|qr|form|error|rel|month|date|password|open|contact|link|register|success|footer|lang|skip)\.[a-z_.0-9]+$`)
	for _, pc := range everyPage() {
		t.Run(pc.name, func(t *testing.T) {
			en := newFixture(t, page.Options{})
			en.host.accounts["nurse@example.org"] = "x"
			enRes := pc.get(en, "en")
			english := map[string]bool{}
			for _, s := range visibleStrings(enRes.body) {
				english[s] = true
				if keyRE.MatchString(s) {
					t.Errorf("en: a message key shows: %q", s)
				}
			}
			for _, lang := range []string{"de", "fr"} {
				f := newFixture(t, page.Options{})
				f.host.accounts["nurse@example.org"] = "x"
				res := pc.get(f, lang)
				if res.code != enRes.code {
					t.Errorf("%s: status %d, English %d", lang, res.code, enRes.code)
				}
				if !strings.Contains(res.body, `<html lang="`+lang+`">`) {
					t.Errorf("%s: not the %s page", lang, lang)
				}
				for _, s := range visibleStrings(res.body) {
					if keyRE.MatchString(s) {
						t.Errorf("%s: a message key shows: %q", lang, s)
					}
					if english[s] && !isName(s) {
						t.Errorf("%s: English on the page: %q", lang, s)
					}
				}
			}
		})
	}
}

// TestPasswordRefusalWords: the wording of the password policy's refusals is callable
// with a language tag (for in-band registration), a regional tag falling back to its
// language, each rule in each language with its bound and plural form.
func TestPasswordRefusalWords(t *testing.T) {
	c, err := page.NewCatalog(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := password.New(password.Config{})
	if err != nil {
		t.Fatal(err)
	}
	refusal := p.Check("aaa", "")
	for _, tc := range []struct {
		tag  string
		want []string
	}{
		{"en", []string{"The password must have at least 8 characters.", "The password must have at least 5 different characters, not the same few repeated."}},
		{"de-CH", []string{"Das Passwort muss mindestens 8 Zeichen haben.", "Das Passwort muss mindestens 5 verschiedene Zeichen haben, nicht dieselben wenigen wiederholt."}},
		{"fr", []string{"Le mot de passe doit avoir au moins 8 caractères.", "Le mot de passe doit avoir au moins 5 caractères différents, pas les mêmes quelques-uns répétés."}},
		{"ja", []string{"The password must have at least 8 characters.", "The password must have at least 5 different characters, not the same few repeated."}},
	} {
		if got := c.Translator(tc.tag).PasswordRefusals(refusal); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.tag, got, tc.want)
		}
	}
	rules := []password.Error{
		{Rule: password.RuleTooShort, Min: 1}, {Rule: password.RuleTooLong, Max: 1024}, {Rule: password.RuleBlank},
		{Rule: password.RuleDistinct, Min: 1}, {Rule: password.RuleUsername}, {Rule: password.RuleCommon},
	}
	for _, lang := range c.Languages() {
		tr := c.Translator(lang)
		for _, e := range rules {
			got := tr.PasswordRefusal(&e)
			if strings.HasPrefix(got, "password.") || strings.Contains(got, "{") {
				t.Errorf("%s %s: %q", lang, e.Rule, got)
			}
		}
	}
	if got := c.Translator("en").PasswordRefusal(&password.Error{Rule: password.RuleTooShort, Min: 1}); got != "The password must have at least 1 character." {
		t.Errorf("singular: %q", got)
	}
}

package page

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/xmpp-invites/invites/internal/core"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/xmpp-invites/invites/internal/password"
)

//go:embed lang/*.json
var embeddedLang embed.FS // read-only

// Translator gives a page's texts in one language.
// Templates call it as {{.T.Get "key" arg0 arg1}}: each "{0}", "{1}"… in the message
// is replaced by the argument of that index. A key the language lacks falls back to
// English, then to the key itself.
type Translator struct {
	lang     string
	msgs     map[string]string
	fallback map[string]string
}

// Lang returns the BCP 47 tag of the translator's language, such as "de".
func (t Translator) Lang() string { return t.lang }

// Get returns the message key with its arguments filled in.
func (t Translator) Get(key string, args ...any) string {
	m, ok := t.msgs[key]
	if !ok {
		if m, ok = t.fallback[key]; !ok {
			return key
		}
	}
	if len(args) == 0 || !strings.Contains(m, "{") {
		return m
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(m, '{')
		if i < 0 {
			b.WriteString(m)
			break
		}
		j := strings.IndexByte(m[i:], '}')
		if j < 0 {
			b.WriteString(m)
			break
		}
		n, err := strconv.Atoi(m[i+1 : i+j])
		b.WriteString(m[:i])
		if err == nil && n >= 0 && n < len(args) {
			fmt.Fprint(&b, args[n])
		} else {
			b.WriteString(m[i : i+j+1])
		}
		m = m[i+j+1:]
	}
	return b.String()
}

// Plural returns the plural form of key for n, with n as its argument {0}:
// key+".one" or key+".other", by the language's rule (French counts 0 as one).
// Templates call it as {{.T.Plural "key" n}}.
func (t Translator) Plural(key string, n int) string {
	one := n == 1
	if base, _, _ := strings.Cut(t.lang, "-"); base == "fr" {
		one = n == 0 || n == 1
	}
	if one {
		return t.Get(key+".one", n)
	}
	return t.Get(key+".other", n)
}

// label returns a client link's label in the translator's language: the message
// "link."+label in lower case (such as link.download) when there is one, else the
// label as is (a name, such as "Google Play").
func (t Translator) label(l string) string {
	key := "link." + strings.ToLower(l)
	if m := t.Get(key); m != key {
		return m
	}
	return l
}

// Date formats at in UTC in the translator's language, such as "5 March 2026, 14:00
// UTC", for the messages and mails that name an invite's expiry.
func (t Translator) Date(at time.Time) string { return t.date(at) }

// date formats t in UTC in the translator's language, such as "5 March 2026, 14:00 UTC".
func (t Translator) date(at time.Time) string {
	at = at.UTC()
	return t.Get("date.format", at.Day(), t.Get("month."+strconv.Itoa(int(at.Month()))), at.Year(), at.Format("15:04"))
}

// relative says how far d (positive) is, such as "in 7 days", rounded as every edge
// rounds it (core.SpanOf).
func (t Translator) relative(d time.Duration) string {
	s := core.SpanOf(d)
	if s.Unit == core.SpanSoon {
		return t.Get("rel.soon")
	}
	return t.Plural("rel."+string(s.Unit), s.N)
}

// Catalog holds the page's messages in every offered language: the embedded ones,
// overlaid by the operator's. Build it with NewCatalog; a Handler has one
// (Handler.Catalog). It is safe for concurrent use.
type Catalog struct {
	langs   []string // offered languages, the first the default
	msgs    map[string]map[string]string
	matcher language.Matcher
}

// NewCatalog reads the messages of langs (the first the default; none means en, de,
// fr): lang/LANG.json of the embedded files, overlaid key by key with lang/LANG.json
// of over (nil for none). English is always read, as the fallback of missing keys,
// offered or not.
func NewCatalog(langs []string, over fs.FS) (*Catalog, error) {
	if len(langs) == 0 {
		langs = []string{"en", "de", "fr"}
	}
	c := &Catalog{msgs: make(map[string]map[string]string)}
	var tags []language.Tag
	for i, l := range append([]string{"en"}, langs...) {
		tag, err := language.Parse(l)
		if err != nil {
			return nil, fmt.Errorf("language %q: %w", l, err)
		}
		name := tag.String()
		if _, done := c.msgs[name]; !done {
			m, err := readMessages(name, over)
			if err != nil {
				return nil, err
			}
			c.msgs[name] = m
		}
		if i == 0 || containsLang(c.langs, name) {
			continue // the fallback, or offered twice
		}
		c.langs = append(c.langs, name)
		tags = append(tags, tag)
	}
	if len(c.langs) == 0 {
		return nil, errors.New("no languages")
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// readMessages reads lang/NAME.json, embedded and then from over.
func readMessages(name string, over fs.FS) (map[string]string, error) {
	m := make(map[string]string)
	found := false
	for _, fsys := range []fs.FS{embeddedLang, over} {
		if fsys == nil {
			continue
		}
		b, err := fs.ReadFile(fsys, "lang/"+name+".json")
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading messages of %s: %w", name, err)
		}
		var add map[string]string
		if err := json.Unmarshal(b, &add); err != nil {
			return nil, fmt.Errorf("reading messages of %s: %w", name, err)
		}
		for k, v := range add {
			m[k] = v
		}
		found = true
	}
	if !found {
		return nil, fmt.Errorf("no messages for language %s: add lang/%s.json to the templates", name, name)
	}
	return m, nil
}

// containsLang reports whether langs holds l.
func containsLang(langs []string, l string) bool { return slices.Contains(langs, l) }

// Translator returns the translator of the offered language that best matches the
// BCP 47 tag, such as the xml:lang of a stanza: "de-CH" gets German when German is
// offered and Swiss German is not; a tag that matches none gets the default.
func (c *Catalog) Translator(tag string) Translator { return c.translator(tag, "") }

// Languages returns the offered languages, the first the default.
func (c *Catalog) Languages() []string { return slices.Clone(c.langs) }

// translator picks the language: an explicit choice (the lang parameter) when it
// matches an offered language, else the best match of Accept-Language, else the
// default.
func (c *Catalog) translator(choice, accept string) Translator {
	if choice != "" {
		if t, err := language.Parse(choice); err == nil {
			if l, ok := c.match(t); ok {
				return c.of(l)
			}
		}
	}
	if accept != "" {
		if tags, _, err := language.ParseAcceptLanguage(accept); err == nil {
			if _, i, conf := c.matcher.Match(tags...); conf > language.No && i >= 0 && i < len(c.langs) {
				return c.of(c.langs[i])
			}
		}
	}
	return c.of(c.langs[0])
}

// match returns the offered language that tag asks for: itself, else the offered
// language it falls back to (de-CH to de, pt to pt-BR when only that is offered).
func (c *Catalog) match(tag language.Tag) (string, bool) {
	if containsLang(c.langs, tag.String()) {
		return tag.String(), true
	}
	_, i, conf := c.matcher.Match(tag)
	if conf <= language.No || i < 0 || i >= len(c.langs) {
		return "", false
	}
	return c.langs[i], true
}

// of returns the translator of an offered language.
func (c *Catalog) of(lang string) Translator {
	return Translator{lang: lang, msgs: c.msgs[lang], fallback: c.msgs["en"]}
}

// PasswordRefusals words each rule of the password policy that err holds (see
// password.Reasons) in the translator's language; nil when it holds none.
func (t Translator) PasswordRefusals(err error) []string {
	var out []string
	for _, e := range password.Reasons(err) {
		out = append(out, t.PasswordRefusal(e))
	}
	return out
}

// PasswordRefusal words one rule of the password policy in the translator's language,
// from the messages password.RULE (password.too_short and password.distinct with
// plural forms).
func (t Translator) PasswordRefusal(e *password.Error) string {
	switch e.Rule {
	case password.RuleTooShort, password.RuleDistinct:
		return t.Plural("password."+string(e.Rule), e.Min)
	case password.RuleTooLong:
		return t.Get("password.too_long", e.Max)
	}
	return t.Get("password." + string(e.Rule))
}

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

// count picks the plural form of key for n: key+".one" or key+".other", by the
// language's rule (French counts 0 as one).
func (t Translator) count(key string, n int) string {
	one := n == 1
	if base, _, _ := strings.Cut(t.lang, "-"); base == "fr" {
		one = n == 0 || n == 1
	}
	if one {
		return t.Get(key+".one", n)
	}
	return t.Get(key+".other", n)
}

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
	return t.count("rel."+string(s.Unit), s.N)
}

// catalog holds the messages of every offered language.
type catalog struct {
	langs   []string // offered languages, the first the default
	msgs    map[string]map[string]string
	matcher language.Matcher
}

// loadCatalog reads the messages of langs (the first the default): lang/LANG.json of
// the embedded files, overlaid key by key with lang/LANG.json of over (nil for none).
// English is always read, as the fallback of missing keys, offered or not.
func loadCatalog(langs []string, over fs.FS) (*catalog, error) {
	c := &catalog{msgs: make(map[string]map[string]string)}
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

// translator picks the language: an explicit choice (the lang parameter) when it is
// offered, else the best match of Accept-Language, else the default.
func (c *catalog) translator(choice, accept string) Translator {
	lang := c.langs[0]
	if choice != "" {
		if t, err := language.Parse(choice); err == nil && containsLang(c.langs, t.String()) {
			return c.of(t.String())
		}
	}
	if accept != "" {
		_, i := language.MatchStrings(c.matcher, accept)
		if i >= 0 && i < len(c.langs) {
			lang = c.langs[i]
		}
	}
	return c.of(lang)
}

// of returns the translator of an offered language.
func (c *catalog) of(lang string) Translator {
	return Translator{lang: lang, msgs: c.msgs[lang], fallback: c.msgs["en"]}
}

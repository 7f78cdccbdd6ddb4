package page

import (
	"encoding/json"
	"image"
	"image/color"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goqr "github.com/piglig/go-qr"
)

// rasterize draws a QR path ("Mx yhNv1h-Nz"…) at scale pixels a module.
func rasterize(t *testing.T, q QR, scale int) image.Image {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, q.Size*scale, q.Size*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	re := regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`)
	runs := re.FindAllStringSubmatch(q.Path, -1)
	if len(runs) == 0 || strings.Join(re.FindAllString(q.Path, -1), "") != q.Path {
		t.Fatalf("path not made of runs: %.80s", q.Path)
	}
	for _, m := range runs {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		n, _ := strconv.Atoi(m[3])
		for px := x * scale; px < (x+n)*scale; px++ {
			for py := y * scale; py < (y+1)*scale; py++ {
				img.SetGray(px, py, color.Gray{})
			}
		}
	}
	return img
}

func TestQRDecodes(t *testing.T) {
	for _, text := range []string{
		"https://chat.example.org/invite?AAAAAAAAAAAAaccountTokenXXXXXXXXXXXX",
		"http://127.0.0.1:39999/invite?" + strings.Repeat("x", 24),
		"https://a-rather-long-host-name.example.org/some/prefix/invite?" + strings.Repeat("Zz9_-", 20),
	} {
		q, err := newQR(text)
		if err != nil {
			t.Fatal(err)
		}
		got, err := goqr.Decode(rasterize(t, q, 4))
		if err != nil {
			t.Fatalf("decoding the QR code of %q: %v", text, err)
		}
		if got != text {
			t.Errorf("QR code says %q, want %q", got, text)
		}
	}
}

func TestCSRFToken(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	tok := "AAAAAAAAAAAAaccountTokenXXXXXXXXXXXX"
	v := csrfToken(key, tok, now)
	cases := []struct {
		name  string
		key   []byte
		token string
		v     string
		at    time.Time
		ok    bool
	}{
		{"fresh", key, tok, v, now, true},
		{"an hour later", key, tok, v, now.Add(time.Hour), true},
		{"expired", key, tok, v, now.Add(2*time.Hour + time.Second), false},
		{"from the future", key, tok, v, now.Add(-2 * time.Minute), false},
		{"other token", key, tok + "x", v, now, false},
		{"other key", []byte("1123456789abcdef0123456789abcdef"), tok, v, now, false},
		{"empty", key, tok, "", now, false},
		{"no dot", key, tok, strings.ReplaceAll(v, ".", ""), now, false},
		{"other time", key, tok, "1800000001" + v[strings.IndexByte(v, '.'):], now, false},
		{"leading zero", key, tok, "0" + v, now, false},
		{"plus sign", key, tok, "+" + v, now, false},
		{"padded MAC", key, tok, v + "=", now, false},
		{"huge time", key, tok, "99999999999999999999.AAAA", now, false},
	}
	for _, c := range cases {
		if got := csrfValid(c.key, c.token, c.v, c.at, 2*time.Hour); got != c.ok {
			t.Errorf("%s: valid = %v, want %v", c.name, got, c.ok)
		}
	}
}

func TestDetectPlatform(t *testing.T) {
	cases := []struct {
		ua   string
		want Platform
	}{
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36", PlatformAndroid},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15", PlatformIOS},
		{"Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X)", PlatformIOS},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36", PlatformWindows},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15", PlatformMacOS},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", PlatformLinux},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0)", PlatformLinux},
		{"curl/8.5.0", ""},
		{"", ""},
	}
	for _, c := range cases {
		got, err := detectPlatform(c.ua)
		if got != c.want || (err != nil) != (c.want == "") {
			t.Errorf("detectPlatform(%q) = %q, %v; want %q", c.ua, got, err, c.want)
		}
	}
}

// TestMessages checks every embedded language has exactly the English keys, with the
// same placeholders, and that the plural and date helpers read well.
func TestMessages(t *testing.T) {
	read := func(lang string) map[string]string {
		b, err := fs.ReadFile(embeddedLang, "lang/"+lang+".json")
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		return m
	}
	placeholders := regexp.MustCompile(`\{\d+\}`)
	en := read("en")
	for _, lang := range []string{"de", "fr"} {
		m := read(lang)
		for k, v := range en {
			w, ok := m[k]
			if !ok {
				t.Errorf("%s lacks %s", lang, k)
				continue
			}
			a, b := placeholders.FindAllString(v, -1), placeholders.FindAllString(w, -1)
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) {
				t.Errorf("%s %s: placeholders %v, English %v", lang, k, b, a)
			}
		}
		for k := range m {
			if _, ok := en[k]; !ok {
				t.Errorf("%s has %s, English does not", lang, k)
			}
		}
	}
	c, err := NewCatalog(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		lang string
		d    time.Duration
		want string
	}{
		{"en", 7 * 24 * time.Hour, "in 7 days"},
		{"en", 35 * time.Hour, "in 35 hours"},
		{"en", 7*24*time.Hour - 3*time.Second, "in 7 days"}, // made seconds ago (issue 22)
		{"en", 61 * time.Minute, "in 61 minutes"},
		{"en", time.Minute, "in 1 minute"},
		{"en", time.Second, "in less than a minute"},
		{"de", 24*time.Hour*2 + time.Hour, "in 2 Tagen"},
		{"fr", time.Minute + time.Second, "dans 1 minute"},
		{"fr", 3 * time.Hour, "dans 3 heures"},
	}
	for _, tc := range cases {
		if got := c.of(tc.lang).relative(tc.d); got != tc.want {
			t.Errorf("%s relative(%v) = %q, want %q", tc.lang, tc.d, got, tc.want)
		}
	}
	at := time.Date(2026, 8, 1, 9, 5, 0, 0, time.FixedZone("CEST", 2*3600))
	for lang, want := range map[string]string{"en": "1 August 2026, 07:05 UTC", "de": "1. August 2026, 07:05 UTC", "fr": "1 août 2026, 07:05 UTC"} {
		if got := c.of(lang).date(at); got != want {
			t.Errorf("%s date = %q, want %q", lang, got, want)
		}
	}
	tr := c.of("en")
	for _, tc := range []struct {
		key  string
		args []any
		want string
	}{
		{"invite.title", []any{"example.org"}, "Invitation to example.org"},
		{"invite.title", nil, "Invitation to {0}"},
		{"no.such.key", []any{1}, "no.such.key"},
		{"form.password_confirm", []any{8, 9}, "Password again"},
	} {
		if got := tr.Get(tc.key, tc.args...); got != tc.want {
			t.Errorf("Get(%s, %v) = %q, want %q", tc.key, tc.args, got, tc.want)
		}
	}
}

func TestParseRegisterForm(t *testing.T) {
	cases := []struct {
		body string
		want registerForm
		err  string // the message key, "" for none
	}{
		{"t=AAAAAAAAAAAAAAAAAAAA&username=+romeo+&password=a+b&password_confirm=a+b&csrf=1.x&lang=de&submit=",
			registerForm{Token: "AAAAAAAAAAAAAAAAAAAA", Username: "romeo", Password: "a b", PasswordConfirm: "a b", CSRF: "1.x", Lang: "de"}, ""},
		{"", registerForm{}, ""},
		{"username=a&username=b&t=x", registerForm{Token: "x"}, "error.malformed"},
		{"t=x&username=%zz", registerForm{}, "error.malformed"},
		{"t=x;y", registerForm{}, "error.malformed"},
		{"t=x&username=a%00b", registerForm{Token: "x"}, "error.malformed"},
		{"t=x&password=%ff", registerForm{Token: "x"}, "error.malformed"},
		{"t=x&username=a+b", registerForm{Token: "x", Username: "a b"}, "error.username_invalid"},
		{"t=x&username=a%0Ab", registerForm{Token: "x", Username: "a\nb"}, "error.username_invalid"},
		{"t=x+y&username=a", registerForm{Username: "a"}, "error.malformed"},
		{"t=x&password=" + strings.Repeat("p", maxPasswordLen+1), registerForm{Token: "x"}, "error.password_long"},
		{"t=x&username=" + strings.Repeat("u", maxUsernameLen+1), registerForm{Token: "x"}, "error.username_invalid"},
	}
	for i, c := range cases {
		got, err := parseRegisterForm([]byte(c.body))
		key := ""
		if fe, ok := err.(*formError); ok {
			key = fe.key
		} else if err != nil {
			t.Errorf("%d: error %T %v, want *formError", i, err, err)
		}
		if key != c.err {
			t.Errorf("%d: error %q, want %q", i, key, c.err)
		}
		if got != c.want {
			t.Errorf("%d: got %+v, want %+v", i, got, c.want)
		}
	}
}

// TestSubmissionsBounded: the remembered forms stay within their bound and their
// lifetime, and a failed sending is forgotten at once.
func TestSubmissionsBounded(t *testing.T) {
	now := time.Date(2026, 3, 5, 14, 0, 0, 0, time.UTC)
	s := newSubmissions(3, time.Hour)
	key := []byte("0123456789abcdef0123456789abcdef")
	if submissionKey(key, registerForm{Token: "t", Password: "a"}) == submissionKey(key, registerForm{Token: "t", Password: "b"}) ||
		submissionKey(key, registerForm{Token: "t", Username: "a"}) == submissionKey(key, registerForm{Token: "t", Username: "b"}) ||
		submissionKey(key, registerForm{Token: "t"}) == submissionKey([]byte("another key of thirty-two bytes!"), registerForm{Token: "t"}) {
		t.Error("different forms share a key")
	}
	for i := range 5 {
		sub, first := s.begin(submissionKey(key, registerForm{Token: "tok", CSRF: strconv.Itoa(i)}), now)
		if !first {
			t.Fatalf("%d: not first", i)
		}
		s.finish(sub, true, Account{JID: "a@example.org"}, Invite{})
	}
	if n := s.len(); n != 3 {
		t.Errorf("%d remembered, bound 3", n)
	}
	if s.get(submissionKey(key, registerForm{Token: "tok", CSRF: "0"}), now) != nil || s.get(submissionKey(key, registerForm{Token: "tok", CSRF: "4"}), now) == nil {
		t.Error("not the oldest forgotten first")
	}
	sub, _ := s.begin(submissionKey(key, registerForm{Token: "tok", CSRF: "x"}), now)
	if _, first := s.begin(submissionKey(key, registerForm{Token: "tok", CSRF: "x"}), now); first {
		t.Error("a form in flight begun twice")
	}
	s.finish(sub, false, Account{}, Invite{})
	if s.get(submissionKey(key, registerForm{Token: "tok", CSRF: "x"}), now) != nil {
		t.Error("a failed sending is remembered")
	}
	if s.get(submissionKey(key, registerForm{Token: "tok", CSRF: "4"}), now.Add(time.Hour)) != nil || s.len() != 0 {
		t.Errorf("expired entries kept: %d", s.len())
	}
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "deflate, gzip;q=1.0, *;q=0.5": true, "gzip;q=0": false,
		"gzip; q=0.000": false, "*": true, "*;q=0": false, "br, *;q=0.1": true, "br": false, "identity": false,
		"x-gzip": true, "gzip;q=2": false, "gzip;q=nope, br": false, "br;q=0, gzip;q=0.5": true,
	} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", h, got, want)
		}
	}
}

package httpapi_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/httpapi"
)

// TestConfigNormalize: the zero Config gets its defaults; each bad key is refused,
// every one at once, naming the key and what it accepts; Options carries the values.
func TestConfigNormalize(t *testing.T) {
	for i, tc := range []struct {
		in      httpapi.Config
		want    httpapi.Options // when no error
		wantErr []string        // parts of the error, one per refused key
	}{
		0: {in: httpapi.Config{}, want: httpapi.Options{MaxBodyBytes: 64 << 10, FailedAuthCount: 20, FailedAuthPeriod: time.Minute}},
		1: {in: httpapi.Config{MaxBodyBytes: 1, FailedAuthRate: "100/1h", TrustedProxies: []string{"127.0.0.1", "10.1.2.3/8", "::1"}},
			want: httpapi.Options{MaxBodyBytes: 1, FailedAuthCount: 100, FailedAuthPeriod: time.Hour, TrustedProxies: []netip.Prefix{
				netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}},
		2: {in: httpapi.Config{MaxBodyBytes: 16 << 20}, want: httpapi.Options{MaxBodyBytes: 16 << 20, FailedAuthCount: 20, FailedAuthPeriod: time.Minute}},
		3: {in: httpapi.Config{MaxBodyBytes: 16<<20 + 1}, wantErr: []string{"max_body_bytes must be between 1 and 16777216"}},
		4: {in: httpapi.Config{MaxBodyBytes: -1}, wantErr: []string{"max_body_bytes must be between 1 and 16777216"}},
		5: {in: httpapi.Config{FailedAuthRate: "often"}, wantErr: []string{`failed_auth_rate: "often" is not a rate: write N/PERIOD`}},
		6: {in: httpapi.Config{TrustedProxies: []string{"proxy.example"}}, wantErr: []string{`trusted_proxies: "proxy.example" is not an address or network`}},
		7: {in: httpapi.Config{MaxBodyBytes: -5, FailedAuthRate: "0/m", TrustedProxies: []string{"1.2.3.4/40"}}, wantErr: []string{
			"max_body_bytes", "failed_auth_rate: \"0/m\"", `trusted_proxies: "1.2.3.4/40"`}},
	} {
		c := tc.in
		err := c.Normalize()
		if tc.wantErr != nil {
			if err == nil {
				t.Errorf("%d: no error, want %q", i, tc.wantErr)
				continue
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.wantErr) {
				t.Errorf("%d: %d errors %q, want %d", i, len(lines), lines, len(tc.wantErr))
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%d: %q lacks %q", i, err, w)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("%d: %v", i, err)
			continue
		}
		got := c.Options()
		if got.MaxBodyBytes != tc.want.MaxBodyBytes || got.FailedAuthCount != tc.want.FailedAuthCount ||
			got.FailedAuthPeriod != tc.want.FailedAuthPeriod || !slices.Equal(got.TrustedProxies, tc.want.TrustedProxies) {
			t.Errorf("%d: options %+v, want %+v", i, got, tc.want)
		}
		// Normalizing again changes nothing.
		again := c
		if err := again.Normalize(); err != nil || again.MaxBodyBytes != c.MaxBodyBytes || again.FailedAuthRate != c.FailedAuthRate {
			t.Errorf("%d: normalized twice: %+v %v", i, again, err)
		}
	}
}

// TestConfigDocumentedDefaults: the default each field's comment states is the one
// Normalize fills, so that the configuration reference, made from these comments,
// cannot drift from the code.
func TestConfigDocumentedDefaults(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	comments := map[string]string{} // toml key → comment
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Config" {
			return true
		}
		for _, fl := range ts.Type.(*ast.StructType).Fields.List {
			tag, _ := strconv.Unquote(fl.Tag.Value)
			key, _, _ := strings.Cut(strings.TrimPrefix(tag, `toml:"`), `"`)
			comments[key] = strings.Join(strings.Fields(fl.Doc.Text()), " ")
		}
		return false
	})
	var c httpapi.Config
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	opts := c.Options()
	stated := regexp.MustCompile(`Default ("[^"]*"|[^ ;.]+)`)
	defaults := map[string]func(stated string) bool{
		"max_body_bytes": func(s string) bool { return s == strconv.FormatInt(c.MaxBodyBytes, 10) },
		"failed_auth_rate": func(s string) bool {
			var want httpapi.Config
			want.FailedAuthRate, _ = strconv.Unquote(s)
			if err := want.Normalize(); err != nil {
				return false
			}
			w := want.Options()
			return w.FailedAuthCount == opts.FailedAuthCount && w.FailedAuthPeriod == opts.FailedAuthPeriod
		},
		"trusted_proxies": func(s string) bool { return s == "none:" && len(c.TrustedProxies) == 0 },
	}
	if len(comments) != len(defaults) {
		t.Fatalf("keys %v: each needs a check of its stated default here", comments)
	}
	for key, check := range defaults {
		m := stated.FindStringSubmatch(comments[key])
		if m == nil {
			t.Errorf("%s: the comment states no default: %q", key, comments[key])
			continue
		}
		if !check(m[1]) {
			t.Errorf("%s: the comment says the default is %s; Normalize fills %+v", key, m[1], c)
		}
	}
}

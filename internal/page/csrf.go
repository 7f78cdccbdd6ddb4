package page

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// csrfMACLen is how many bytes of the HMAC a form token keeps (128 bits).
const csrfMACLen = 16

// csrfToken returns the form token of an invite token issued at now:
// "UNIXSECONDS.MAC" where MAC is HMAC-SHA256(key, purpose, invite token, issue time).
// It needs no state on the server and no cookie: the POST must carry a value only
// this server can have made for this very invite token, recently.
func csrfToken(key []byte, token string, now time.Time) string {
	issued := strconv.FormatInt(now.Unix(), 10)
	return issued + "." + base64.RawURLEncoding.EncodeToString(csrfMAC(key, token, issued))
}

// csrfMAC computes the MAC of a form token.
func csrfMAC(key []byte, token, issued string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("invites-page-csrf\x00"))
	m.Write([]byte(token))
	m.Write([]byte{0})
	m.Write([]byte(issued))
	return m.Sum(nil)[:csrfMACLen]
}

// csrfValid reports whether v is a form token this key made for token no longer than
// ttl before now (and not more than a minute after, for clocks of several nodes).
func csrfValid(key []byte, token, v string, now time.Time, ttl time.Duration) bool {
	issued, mac, ok := strings.Cut(v, ".")
	if !ok || len(issued) == 0 || len(issued) > 19 {
		return false
	}
	secs, err := strconv.ParseInt(issued, 10, 64)
	if err != nil || strconv.FormatInt(secs, 10) != issued {
		return false // one spelling per time
	}
	at := time.Unix(secs, 0)
	if at.After(now.Add(time.Minute)) || now.Sub(at) > ttl {
		return false
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(mac)
	if err != nil || len(got) != csrfMACLen {
		return false
	}
	return hmac.Equal(got, csrfMAC(key, token, issued))
}

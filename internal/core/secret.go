package core

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// Sizes of the random values, in bytes before base64url encoding (no padding).
const (
	keyIDBytes     = 9  // KeyIDLen characters
	keySecretBytes = 27 // KeySecretLen characters
	tokenBytes     = 18 // TokenLen characters

	// KeyIDLen is the length of an API key ID.
	KeyIDLen = 12
	// KeySecretLen is the length of an API key secret.
	KeySecretLen = 36
	// TokenLen is the length of an invite token.
	TokenLen = 24
)

var b64 = base64.RawURLEncoding

// randomString returns n bytes from the CSPRNG encoded as base64url without padding.
func randomString(n int) (string, error) {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("core: reading random bytes: %w", err)
	}
	return b64.EncodeToString(buf), nil
}

// NewToken returns a fresh invite token: 24 base64url characters from the CSPRNG.
func NewToken() (string, error) { return randomString(tokenBytes) }

// HashToken returns the SHA-256 of an invite token, the only form a store keeps.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// InviteID derives the public, non-secret ID of an invite from its token hash.
// Knowing the ID does not help to find the token.
func InviteID(tokenHash []byte) string {
	return b64.EncodeToString(tokenHash[:keyIDBytes])
}

// isBase64URL reports whether s has exactly n characters of the base64url alphabet and
// decodes without stray bits (so each value has exactly one spelling).
func isBase64URL(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// ValidToken reports whether s has the form of an invite token.
func ValidToken(s string) bool { return isBase64URL(s, TokenLen) }

package scram

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/text/secure/precis"
)

// The mechanisms this package serves.
// The -PLUS variants (channel binding) are deliberately absent.
const (
	SHA1   = "SCRAM-SHA-1"
	SHA256 = "SCRAM-SHA-256"
)

// Iteration counts for new credentials.
const (
	// DefaultIterations is the PBKDF2 iteration count of new credentials.
	DefaultIterations = 10000
	// MinIterations is the least count RFC 7677 §4 allows for SCRAM-SHA-256.
	MinIterations = 4096
	// MaxIterations bounds the count so a stored value cannot stall a login.
	MaxIterations = 1000000
	// SaltSize is the length of a new random salt in bytes.
	SaltSize = 16
)

// Errors of credential handling.
var (
	// ErrUnknownMechanism means the mechanism is not SCRAM-SHA-1 or SCRAM-SHA-256.
	ErrUnknownMechanism = errors.New("scram: unknown mechanism")
	// ErrPassword means the password is empty or not allowed by the OpaqueString profile.
	ErrPassword = errors.New("scram: password not allowed")
	// ErrIterations means an iteration count is out of bounds.
	ErrIterations = errors.New("scram: iteration count out of bounds")
)

// Mechanisms lists the mechanisms of this package, strongest first.
func Mechanisms() []string { return []string{SHA256, SHA1} }

// hashFor returns the hash function of a mechanism.
func hashFor(mechanism string) (func() hash.Hash, error) {
	switch mechanism {
	case SHA256:
		return sha256.New, nil
	case SHA1:
		return sha1.New, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownMechanism, mechanism)
}

// Credential is what a server keeps of a password for one mechanism (RFC 5802 §3).
// It holds no password equivalent: StoredKey is a hash of the ClientKey, and the
// ServerKey only lets the server prove itself.
type Credential struct {
	// Mechanism is SCRAM-SHA-1 or SCRAM-SHA-256.
	Mechanism string
	// Salt is the PBKDF2 salt.
	Salt []byte
	// Iterations is the PBKDF2 iteration count.
	Iterations int
	// StoredKey is H(HMAC(SaltedPassword, "Client Key")).
	StoredKey []byte
	// ServerKey is HMAC(SaltedPassword, "Server Key").
	ServerKey []byte
}

// PreparePassword applies the PRECIS OpaqueString profile (RFC 8265 §4.2), which
// replaces SASLprep for passwords.
func PreparePassword(password string) (string, error) {
	if password == "" {
		return "", ErrPassword
	}
	p, err := precis.OpaqueString.String(password)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrPassword, err)
	}
	return p, nil
}

// NewCredential derives a credential for password with a fresh random salt.
// Zero iterations means DefaultIterations.
func NewCredential(mechanism, password string, iterations int) (Credential, error) {
	if iterations == 0 {
		iterations = DefaultIterations
	}
	if iterations < MinIterations || iterations > MaxIterations {
		return Credential{}, fmt.Errorf("%w: %d", ErrIterations, iterations)
	}
	salt := make([]byte, SaltSize)
	if _, err := rand.Read(salt); err != nil {
		return Credential{}, fmt.Errorf("scram: reading salt: %w", err)
	}
	return Derive(mechanism, password, salt, iterations)
}

// Derive computes the credential of password with the given salt and iteration count.
func Derive(mechanism, password string, salt []byte, iterations int) (Credential, error) {
	h, err := hashFor(mechanism)
	if err != nil {
		return Credential{}, err
	}
	if iterations < 1 || iterations > MaxIterations {
		return Credential{}, fmt.Errorf("%w: %d", ErrIterations, iterations)
	}
	p, err := PreparePassword(password)
	if err != nil {
		return Credential{}, err
	}
	salted, err := pbkdf2.Key(h, p, salt, iterations, h().Size())
	if err != nil {
		return Credential{}, fmt.Errorf("scram: deriving key: %w", err)
	}
	clientKey := mac(h, salted, []byte("Client Key"))
	stored := h()
	stored.Write(clientKey)
	return Credential{
		Mechanism:  mechanism,
		Salt:       append([]byte(nil), salt...),
		Iterations: iterations,
		StoredKey:  stored.Sum(nil),
		ServerKey:  mac(h, salted, []byte("Server Key")),
	}, nil
}

// Verify reports whether password matches the credential, deriving the keys again
// from the stored salt and iteration count (for SASL PLAIN).
// It compares in constant time.
func (c Credential) Verify(password string) bool {
	d, err := Derive(c.Mechanism, password, c.Salt, c.Iterations)
	if err != nil {
		return false
	}
	a := subtle.ConstantTimeCompare(d.StoredKey, c.StoredKey)
	b := subtle.ConstantTimeCompare(d.ServerKey, c.ServerKey)
	return a&b == 1
}

// Validate checks that the credential is complete and consistent.
func (c Credential) Validate() error {
	h, err := hashFor(c.Mechanism)
	if err != nil {
		return err
	}
	switch {
	case len(c.Salt) == 0:
		return errors.New("scram: empty salt")
	case c.Iterations < 1 || c.Iterations > MaxIterations:
		return fmt.Errorf("%w: %d", ErrIterations, c.Iterations)
	case len(c.StoredKey) != h().Size() || len(c.ServerKey) != h().Size():
		return errors.New("scram: key length does not match the mechanism")
	}
	return nil
}

// mac returns HMAC(key, msg) with hash h.
func mac(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

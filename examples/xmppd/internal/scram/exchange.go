package scram

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"unicode/utf8"
)

// Errors of an exchange.
// Each maps to one SASL failure condition of RFC 6120 §6.5.
var (
	// ErrAuthFailed means the proof was wrong or the user is unknown (not-authorized).
	ErrAuthFailed = errors.New("scram: authentication failed")
	// ErrMalformed means a message did not follow RFC 5802 §7 (malformed-request).
	ErrMalformed = errors.New("scram: malformed message")
	// ErrChannelBinding means the client asked for channel binding, which is not
	// offered (not-authorized).
	ErrChannelBinding = errors.New("scram: channel binding not supported")
	// ErrUnknownUser is what a Lookup returns for a user without a credential;
	// the exchange then carries on with a made-up salt and fails at the end, so
	// that a client cannot tell unknown users from wrong passwords.
	ErrUnknownUser = errors.New("scram: unknown user")
	// ErrDone means Step was called after the exchange ended.
	ErrDone = errors.New("scram: exchange already finished")
)

// Lookup returns the credential of username for mechanism, or ErrUnknownUser.
// The username is the decoded saslname as the client sent it.
type Lookup func(ctx context.Context, username, mechanism string) (Credential, error)

// Server starts exchanges against one credential lookup.
// It is safe for concurrent use; each Exchange is not.
type Server struct {
	lookup Lookup
	// secret keys the made-up salts of unknown users, so the same name always gets
	// the same salt during the life of the process.
	secret []byte
}

// NewServer returns a Server that finds credentials with lookup.
func NewServer(lookup Lookup) (*Server, error) {
	if lookup == nil {
		return nil, errors.New("scram: nil lookup")
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("scram: reading secret: %w", err)
	}
	return &Server{lookup: lookup, secret: secret}, nil
}

// Start begins an exchange for mechanism.
func (s *Server) Start(mechanism string) (*Exchange, error) {
	h, err := hashFor(mechanism)
	if err != nil {
		return nil, err
	}
	return &Exchange{srv: s, mechanism: mechanism, h: h}, nil
}

// Exchange is the server side of one SCRAM authentication (RFC 5802 §5).
type Exchange struct {
	srv       *Server
	mechanism string
	h         func() hash.Hash

	step        int
	username    string
	authzid     string
	gs2Header   []byte
	firstBare   []byte
	serverFirst []byte
	nonce       []byte
	cred        Credential
	unknown     bool
	// fixedNonce replaces the random server nonce in tests.
	fixedNonce []byte
}

// Username returns the decoded username of the client-first-message.
func (e *Exchange) Username() string { return e.username }

// Authzid returns the decoded authorization identity, empty when none was given.
func (e *Exchange) Authzid() string { return e.authzid }

// Step takes the next client message and returns the server's answer.
// The first call takes the client-first-message and returns the server-first-message;
// the second takes the client-final-message and, when the proof is right, returns the
// server-final-message ("v=…", to be sent as additional data with success) and done.
func (e *Exchange) Step(ctx context.Context, msg []byte) (resp []byte, done bool, err error) {
	switch e.step {
	case 0:
		e.step = 1
		resp, err = e.first(ctx, msg)
		if err != nil {
			e.step = 2
		}
		return resp, false, err
	case 1:
		e.step = 2
		resp, err = e.final(msg)
		return resp, err == nil, err
	}
	return nil, false, ErrDone
}

// first handles the client-first-message.
func (e *Exchange) first(ctx context.Context, msg []byte) ([]byte, error) {
	// gs2-header = gs2-cbind-flag "," [ authzid ] ","
	i := bytes.IndexByte(msg, ',')
	if i < 0 {
		return nil, fmt.Errorf("%w: no gs2 header", ErrMalformed)
	}
	j := bytes.IndexByte(msg[i+1:], ',')
	if j < 0 {
		return nil, fmt.Errorf("%w: no gs2 header", ErrMalformed)
	}
	j += i + 1
	flag, authz, bare := msg[:i], msg[i+1:j], msg[j+1:]
	switch {
	case bytes.Equal(flag, []byte("n")), bytes.Equal(flag, []byte("y")):
		// "y": the client could bind but thinks we cannot; we offer no -PLUS
		// mechanism, so that is right.
	case bytes.HasPrefix(flag, []byte("p=")):
		return nil, ErrChannelBinding
	default:
		return nil, fmt.Errorf("%w: bad gs2-cbind-flag", ErrMalformed)
	}
	if len(authz) > 0 {
		if !bytes.HasPrefix(authz, []byte("a=")) {
			return nil, fmt.Errorf("%w: bad authzid", ErrMalformed)
		}
		a, err := decodeSASLName(authz[2:])
		if err != nil {
			return nil, err
		}
		e.authzid = a
	}
	fields := bytes.Split(bare, []byte(","))
	if len(fields) < 2 {
		return nil, fmt.Errorf("%w: short client-first-message", ErrMalformed)
	}
	if bytes.HasPrefix(fields[0], []byte("m=")) {
		return nil, fmt.Errorf("%w: unsupported mandatory extension", ErrMalformed)
	}
	if !bytes.HasPrefix(fields[0], []byte("n=")) || !bytes.HasPrefix(fields[1], []byte("r=")) {
		return nil, fmt.Errorf("%w: expected n= and r=", ErrMalformed)
	}
	user, err := decodeSASLName(fields[0][2:])
	if err != nil {
		return nil, err
	}
	cnonce := fields[1][2:]
	if !printable(cnonce) {
		return nil, fmt.Errorf("%w: bad nonce", ErrMalformed)
	}
	e.username = user
	e.gs2Header = append([]byte(nil), msg[:j+1]...)
	e.firstBare = append([]byte(nil), bare...)

	cred, err := e.srv.lookup(ctx, user, e.mechanism)
	switch {
	case errors.Is(err, ErrUnknownUser):
		e.unknown = true
		cred = e.fakeCredential(user)
	case err != nil:
		return nil, fmt.Errorf("scram: looking up credential: %w", err)
	case cred.Mechanism != e.mechanism || cred.Validate() != nil:
		return nil, fmt.Errorf("scram: stored credential unusable for %s", e.mechanism)
	}
	e.cred = cred

	snonce := e.fixedNonce
	if snonce == nil {
		r := make([]byte, 18)
		if _, err := rand.Read(r); err != nil {
			return nil, fmt.Errorf("scram: reading nonce: %w", err)
		}
		snonce = []byte(base64.RawURLEncoding.EncodeToString(r))
	}
	e.nonce = append(append([]byte(nil), cnonce...), snonce...)
	var b bytes.Buffer
	b.WriteString("r=")
	b.Write(e.nonce)
	b.WriteString(",s=")
	b.WriteString(base64.StdEncoding.EncodeToString(cred.Salt))
	b.WriteString(",i=")
	b.WriteString(strconv.Itoa(cred.Iterations))
	e.serverFirst = b.Bytes()
	return e.serverFirst, nil
}

// final handles the client-final-message.
func (e *Exchange) final(msg []byte) ([]byte, error) {
	// client-final-message-without-proof "," proof; the proof comes last.
	k := bytes.LastIndex(msg, []byte(",p="))
	if k < 0 {
		return nil, fmt.Errorf("%w: no proof", ErrMalformed)
	}
	withoutProof, proofB64 := msg[:k], msg[k+3:]
	fields := bytes.Split(withoutProof, []byte(","))
	if len(fields) < 2 || !bytes.HasPrefix(fields[0], []byte("c=")) || !bytes.HasPrefix(fields[1], []byte("r=")) {
		return nil, fmt.Errorf("%w: expected c= and r=", ErrMalformed)
	}
	cbind, err := base64.StdEncoding.DecodeString(string(fields[0][2:]))
	if err != nil {
		return nil, fmt.Errorf("%w: channel binding: %w", ErrMalformed, err)
	}
	proof, err := base64.StdEncoding.DecodeString(string(proofB64))
	if err != nil {
		return nil, fmt.Errorf("%w: proof: %w", ErrMalformed, err)
	}
	if !bytes.Equal(cbind, e.gs2Header) {
		return nil, fmt.Errorf("%w: channel binding does not match the gs2 header", ErrAuthFailed)
	}
	if !bytes.Equal(fields[1][2:], e.nonce) {
		return nil, fmt.Errorf("%w: nonce mismatch", ErrAuthFailed)
	}
	size := e.h().Size()
	if len(proof) != size {
		return nil, fmt.Errorf("%w: proof length", ErrAuthFailed)
	}
	auth := make([]byte, 0, len(e.firstBare)+len(e.serverFirst)+len(withoutProof)+2)
	auth = append(auth, e.firstBare...)
	auth = append(auth, ',')
	auth = append(auth, e.serverFirst...)
	auth = append(auth, ',')
	auth = append(auth, withoutProof...)

	sig := mac(e.h, e.cred.StoredKey, auth)
	clientKey := make([]byte, size)
	subtle.XORBytes(clientKey, proof, sig)
	h := e.h()
	h.Write(clientKey)
	ok := subtle.ConstantTimeCompare(h.Sum(nil), e.cred.StoredKey) == 1
	if !ok || e.unknown {
		return nil, ErrAuthFailed
	}
	v := mac(e.h, e.cred.ServerKey, auth)
	return []byte("v=" + base64.StdEncoding.EncodeToString(v)), nil
}

// fakeCredential makes a credential for an unknown user that looks like a real
// one: a salt stable for that name, the default count, random keys.
func (e *Exchange) fakeCredential(user string) Credential {
	salt := hmac.New(e.h, e.srv.secret)
	salt.Write([]byte(e.mechanism + "\x00" + user))
	size := e.h().Size()
	keys := make([]byte, 2*size)
	_, _ = rand.Read(keys)
	return Credential{
		Mechanism:  e.mechanism,
		Salt:       salt.Sum(nil)[:SaltSize],
		Iterations: DefaultIterations,
		StoredKey:  keys[:size],
		ServerKey:  keys[size:],
	}
}

// decodeSASLName decodes a saslname (RFC 5802 §7): "=2C" is ',', "=3D" is '=',
// and any other '=' is an error.
func decodeSASLName(b []byte) (string, error) {
	if len(b) == 0 {
		return "", fmt.Errorf("%w: empty name", ErrMalformed)
	}
	var out []byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch c {
		case ',':
			return "", fmt.Errorf("%w: ',' in name", ErrMalformed)
		case '=':
			if i+2 >= len(b) {
				return "", fmt.Errorf("%w: bad escape in name", ErrMalformed)
			}
			switch string(b[i+1 : i+3]) {
			case "2C":
				out = append(out, ',')
			case "3D":
				out = append(out, '=')
			default:
				return "", fmt.Errorf("%w: bad escape in name", ErrMalformed)
			}
			i += 2
		default:
			out = append(out, c)
		}
	}
	if !utf8.Valid(out) {
		return "", fmt.Errorf("%w: name is not UTF-8", ErrMalformed)
	}
	return string(out), nil
}

// printable reports whether b is a non-empty run of printable ASCII without ','.
func printable(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

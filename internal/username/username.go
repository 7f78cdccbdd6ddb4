package username

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/mtibben/confusables"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// MaxLen is the longest normalized name, in bytes (RFC 7622 §3.3.1).
const MaxLen = 1023

// Errors of Normalize.
var (
	// ErrEmpty means the name is empty, or nothing is left of it once prepared.
	ErrEmpty = errors.New("the username is empty")
	// ErrInvalid means the name holds something a username may not hold.
	ErrInvalid = errors.New("the username is not valid")
)

// forbidden are the characters RFC 7622 §3.3.1 keeps out of a localpart, which
// PRECIS alone allows.
const forbidden = "\"&'/:<>@"

// Normalize prepares name with PRECIS UsernameCaseMapped (RFC 8265 §3.3) and checks
// it is a valid XMPP localpart (RFC 7622 §3.3); it returns the account's form of the
// name. Errors wrap ErrEmpty or ErrInvalid and say what was wrong in plain words.
func Normalize(name string) (string, error) {
	if name == "" {
		return "", ErrEmpty
	}
	out, err := precis.UsernameCaseMapped.String(name)
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: use letters, digits and punctuation such as . _ -, without spaces", ErrInvalid)
	case out == "":
		return "", ErrEmpty
	case strings.ContainsAny(out, forbidden):
		return "", fmt.Errorf("%w: it may not contain any of %s", ErrInvalid, forbidden)
	case len(out) > MaxLen:
		return "", fmt.Errorf("%w: it is longer than %d bytes", ErrInvalid, MaxLen)
	}
	return out, nil
}

// maxRounds bounds the rounds of Skeleton; a round changes nothing once the name is
// made of characters that map to themselves, which takes two rounds for any name
// seen so far.
const maxRounds = 4

// Skeleton returns the skeleton of a normalized name: names with one skeleton look
// alike (see the package comment). It never fails; the skeleton of "" is "".
func Skeleton(name string) string {
	s := name
	for range maxRounds {
		next := fold(confusables.Skeleton(s))
		if next == s {
			break
		}
		s = next
	}
	return s
}

// fold maps what the confusables table leaves alone and a reader would not tell
// apart, and lower-cases the rest, on a string in NFD (as confusables.Skeleton
// returns it); the result is in NFD.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	var prev rune
	for _, r := range s {
		switch {
		case r == combiningDotAbove && (prev == 'i' || prev == 'j'):
			continue // the dot an i or a j has already
		case extra(r) != 0:
			r = extra(r)
		default:
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
		prev = r
	}
	return norm.NFD.String(b.String())
}

// combiningDotAbove is U+0307, which "İ" leaves after an i once lower-cased.
const combiningDotAbove = '\u0307'

// extra maps the letters the confusables table of TS #39 leaves alone to the Latin
// letters they show as: the small capitals of the IPA and phonetic extensions, and
// the dotless j; 0 for any other rune.
func extra(r rune) rune {
	switch r {
	case 'ᴀ':
		return 'a'
	case 'ʙ':
		return 'b'
	case 'ᴄ':
		return 'c'
	case 'ᴅ':
		return 'd'
	case 'ᴇ':
		return 'e'
	case 'ꜰ':
		return 'f'
	case 'ɢ':
		return 'g'
	case 'ʜ':
		return 'h'
	case 'ɪ':
		return 'i'
	case 'ᴊ', 'ȷ':
		return 'j'
	case 'ᴋ':
		return 'k'
	case 'ʟ':
		return 'l'
	case 'ᴍ':
		return 'm'
	case 'ɴ':
		return 'n'
	case 'ᴏ':
		return 'o'
	case 'ᴘ':
		return 'p'
	case 'ꞯ':
		return 'q'
	case 'ʀ':
		return 'r'
	case 'ꜱ':
		return 's'
	case 'ᴛ':
		return 't'
	case 'ᴜ':
		return 'u'
	case 'ᴠ':
		return 'v'
	case 'ᴡ':
		return 'w'
	case 'ʏ':
		return 'y'
	case 'ᴢ':
		return 'z'
	}
	return 0
}

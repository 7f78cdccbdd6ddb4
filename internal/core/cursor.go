package core

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"time"
)

// cursorLen is the length of a decoded cursor: 8 bytes of Unix microseconds, then an ID.
const cursorLen = 8 + IDLen

// Cursor returns the opaque text that continues a newest-first list after pos.
func Cursor(pos Position) string {
	b := make([]byte, 8, cursorLen)
	binary.BigEndian.PutUint64(b, uint64(pos.CreatedAt.UnixMicro()))
	b = append(b, pos.ID...)
	return b64.EncodeToString(b)
}

// ParseCursor reads a cursor made by Cursor.
// Anything else is an error matching ErrInvalid.
func ParseCursor(s string) (Position, error) {
	b, err := b64.Strict().DecodeString(s)
	if err != nil || len(b) != cursorLen || !ValidID(string(b[8:])) {
		return Position{}, Refuse(ErrInvalid, FieldCursor, "malformed: use the next_cursor of the previous page")
	}
	us := int64(binary.BigEndian.Uint64(b[:8]))
	return Position{CreatedAt: time.UnixMicro(us).UTC(), ID: string(b[8:])}, nil
}

// ParseInvitePatch reads a JSON merge patch (RFC 7396) of an invite: an object whose
// members may be "expires_at" (an RFC 3339 time), "max_uses" (a whole number, 0 for
// no limit) and "note" (a string; null removes it). Any other member, a null
// expires_at or max_uses, or a value of the wrong type is a refusal matching
// ErrInvalid that names its member; every refusal of the patch is returned, joined,
// with the members that could be read.
func ParseInvitePatch(data []byte) (InvitePatch, error) {
	var raw map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&raw); err != nil || raw == nil {
		return InvitePatch{}, invalidf("the change must be a JSON object with expires_at, max_uses or note")
	}
	if _, err := d.Token(); err == nil {
		return InvitePatch{}, invalidf("the change must be a single JSON object")
	}
	// Members in a fixed order, so that refusals are too.
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	slices.Sort(names)
	var (
		p    InvitePatch
		errs []error
	)
	for _, name := range names {
		v := raw[name]
		null := bytes.Equal(bytes.TrimSpace(v), []byte("null"))
		switch name {
		case FieldExpiresAt:
			var t time.Time
			switch {
			case null:
				errs = append(errs, Refuse(ErrInvalid, name, "cannot be removed: every invite expires"))
			case json.Unmarshal(v, &t) != nil:
				errs = append(errs, Refuse(ErrInvalid, name, "must be a time such as \"2030-01-02T15:04:05Z\""))
			default:
				p.ExpiresAt = &t
			}
		case FieldMaxUses:
			var n json.Number
			if null {
				errs = append(errs, Refuse(ErrInvalid, name, "cannot be removed: set 0 for no limit"))
				continue
			}
			if err := json.Unmarshal(v, &n); err != nil || bytes.HasPrefix(bytes.TrimSpace(v), []byte(`"`)) {
				errs = append(errs, Refuse(ErrInvalid, name, "must be a whole number"))
				continue
			}
			i, err := n.Int64()
			if err != nil || i < 0 || i > MaxMaxUses {
				errs = append(errs, errMaxUsesRange)
				continue
			}
			m := int(i)
			p.MaxUses = &m
		case FieldNote:
			note := ""
			if !null {
				if err := json.Unmarshal(v, &note); err != nil {
					errs = append(errs, Refuse(ErrInvalid, name, "must be a string"))
					continue
				}
			}
			p.Note = &note
		default:
			errs = append(errs, Refuse(ErrInvalid, name, "cannot be changed: only expires_at, max_uses and note can"))
		}
	}
	return p, errors.Join(errs...)
}

// seqCursor returns the opaque text that continues an oldest-first list of accounts
// after the one of sequence number seq.
func seqCursor(seq int64) string {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(seq))
	return b64.EncodeToString(append([]byte("a"), b...))
}

// parseSeqCursor reads a cursor made by seqCursor.
func parseSeqCursor(s string) (int64, error) {
	b, err := b64.Strict().DecodeString(s)
	if err != nil || len(b) != 9 || b[0] != 'a' || int64(binary.BigEndian.Uint64(b[1:])) < 0 {
		return 0, Refuse(ErrInvalid, FieldCursor, "malformed: use the next_cursor of the previous page")
	}
	return int64(binary.BigEndian.Uint64(b[1:])), nil
}

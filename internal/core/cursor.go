package core

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
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
		return Position{}, invalidf("malformed cursor: use the next_cursor of the previous page")
	}
	us := int64(binary.BigEndian.Uint64(b[:8]))
	return Position{CreatedAt: time.UnixMicro(us).UTC(), ID: string(b[8:])}, nil
}

// ParseInvitePatch reads a JSON merge patch (RFC 7396) of an invite: an object whose
// members may be "expires_at" (an RFC 3339 time), "max_uses" (a whole number, 0 for
// no limit) and "note" (a string; null removes it). Any other member, a null
// expires_at or max_uses, or a value of the wrong type is an error matching ErrInvalid.
func ParseInvitePatch(data []byte) (InvitePatch, error) {
	var raw map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&raw); err != nil || raw == nil {
		return InvitePatch{}, invalidf("the change must be a JSON object with expires_at, max_uses or note")
	}
	if _, err := d.Token(); err == nil {
		return InvitePatch{}, invalidf("the change must be a single JSON object")
	}
	var p InvitePatch
	for name, v := range raw {
		null := bytes.Equal(bytes.TrimSpace(v), []byte("null"))
		switch name {
		case "expires_at":
			var t time.Time
			if null {
				return InvitePatch{}, invalidf("expires_at cannot be removed: every invite expires")
			}
			if err := json.Unmarshal(v, &t); err != nil {
				return InvitePatch{}, invalidf("expires_at must be a time such as \"2030-01-02T15:04:05Z\"")
			}
			p.ExpiresAt = &t
		case "max_uses":
			var n json.Number
			if null {
				return InvitePatch{}, invalidf("max_uses cannot be removed: set 0 for no limit")
			}
			if err := json.Unmarshal(v, &n); err != nil || bytes.HasPrefix(bytes.TrimSpace(v), []byte(`"`)) {
				return InvitePatch{}, invalidf("max_uses must be a whole number")
			}
			i, err := n.Int64()
			if err != nil || i < 0 || i > MaxMaxUses {
				return InvitePatch{}, invalidf("max_uses must be between 0 (no limit until it expires) and %d", MaxMaxUses)
			}
			m := int(i)
			p.MaxUses = &m
		case "note":
			note := ""
			if !null {
				if err := json.Unmarshal(v, &note); err != nil {
					return InvitePatch{}, invalidf("note must be a string")
				}
			}
			p.Note = &note
		default:
			return InvitePatch{}, invalidf("%q cannot be changed: only expires_at, max_uses and note can", name)
		}
	}
	return p, nil
}

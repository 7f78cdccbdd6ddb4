package httpapi

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// This file serves the invite lifecycle: BasePath/invites (list) and
// BasePath/invites/ID (show, change, revoke), JSON only, with the credentials of
// creation. A key sees and changes the invites it made; a key with Manage every invite
// of its host; any other invite is 404, so that its existence does not show.

// Invite is an invite as the API shows it, and as the command line prints it with
// --json. Token, URI and LandingPage are set only in the answer to its creation;
// Redemptions only when the invite is shown alone and has been used (lists leave them
// out).
type Invite struct {
	ID          string   `json:"id"`                     // the public ID, never the token
	Token       string   `json:"token,omitempty"`        // the secret, at creation only
	URI         string   `json:"uri,omitempty"`          // the xmpp: URI, at creation only
	LandingPage string   `json:"landing_page,omitempty"` // at creation only, when the host has one
	Host        string   `json:"host"`                   // the XMPP domain
	CreatedAt   string   `json:"created_at"`             // RFC 3339, UTC, to the second
	ExpiresAt   string   `json:"expires_at"`             // RFC 3339, UTC, to the second
	Kind        string   `json:"kind"`                   // account, contact or reset
	Status      string   `json:"status"`                 // pending, used, expired or revoked
	CreatedBy   string   `json:"created_by"`             // api/token/KEYID, xmpp:JID, cli or host
	Note        string   `json:"note,omitempty"`         // the creator's note
	Username    string   `json:"username,omitempty"`     // the fixed name, or the account to reset
	Inviter     string   `json:"inviter,omitempty"`      // the inviter's bare JID (contact invites)
	MaxUses     int      `json:"max_uses"`               // 0: any number until it expires
	Uses        int      `json:"uses"`                   // redemptions so far
	Groups      []string `json:"groups"`                 // never null
	Redemptions *[]Use   `json:"redemptions,omitempty"`  // when shown alone
	RevokedAt   string   `json:"revoked_at,omitempty"`   // RFC 3339, when revoked
	Approval    bool     `json:"approval,omitempty"`     // its accounts wait for an administrator's approval
}

// Use is one redemption of an Invite: the account and when.
type Use struct {
	JID string `json:"jid"` // the bare JID of the account made, subscribed or reset
	At  string `json:"at"`  // RFC 3339, UTC, to the second
}

// InviteList is a page of invites; NextCursor, when not empty, continues the list.
type InviteList struct {
	Invites    []Invite `json:"invites"`               // newest first, without redemptions
	NextCursor string   `json:"next_cursor,omitempty"` // the cursor of the next page
}

// NewInvite describes an invite, its status judged at now, without its redemptions.
func NewInvite(inv core.Invite, now time.Time) Invite {
	b := Invite{
		ID:        inv.ID,
		Host:      inv.Host,
		CreatedAt: formatTime(inv.CreatedAt),
		ExpiresAt: formatTime(inv.ExpiresAt),
		Kind:      string(inv.Kind),
		Status:    string(inv.Status(now)),
		CreatedBy: inv.CreatedBy,
		Note:      inv.Note,
		Username:  inv.Username,
		MaxUses:   inv.MaxUses,
		Uses:      inv.Uses,
		Groups:    slices.Clone(inv.Groups),
		Approval:  inv.Approval,
	}
	if b.Groups == nil {
		b.Groups = []string{}
	}
	if inv.Inviter != "" {
		// The record keeps the inviter's localpart on the invite's host.
		b.Inviter = inv.Inviter + "@" + inv.Host
	}
	if !inv.RevokedAt.IsZero() {
		b.RevokedAt = formatTime(inv.RevokedAt)
	}
	return b
}

// NewInviteWithUses describes an invite shown alone: with its redemptions, left out
// when it has none (as every empty field is).
func NewInviteWithUses(inv core.Invite, now time.Time) Invite {
	b := NewInvite(inv, now)
	if len(inv.Redemptions) == 0 {
		return b
	}
	uses := make([]Use, len(inv.Redemptions))
	for i, u := range inv.Redemptions {
		uses[i] = Use{JID: u.JID, At: formatTime(u.At)}
	}
	b.Redemptions = &uses
	return b
}

// list answers GET BasePath/invites?status=S&limit=N&cursor=C.
func (h *Handler) list(w http.ResponseWriter, r *http.Request) (int, error) {
	p, refused := readListParams(r)
	if _, ok := errors.AsType[*statusError](refused); ok {
		return 0, refused
	}
	key, by, err := h.authenticate(r, p.credential)
	if err != nil {
		return 0, err
	}
	if refused != nil {
		return 0, refused
	}
	page, err := h.svc.ListInvites(r.Context(), by, core.InviteQuery{Host: key.Host, Status: p.status, Limit: p.limit, Cursor: p.cursor})
	if err != nil {
		return 0, err
	}
	now := h.now()
	body := InviteList{Invites: make([]Invite, len(page.Invites)), NextCursor: page.NextCursor}
	for i, inv := range page.Invites {
		body.Invites[i] = NewInvite(inv, now)
	}
	return writeJSON(w, http.StatusOK, body)
}

// show answers GET BasePath/invites/ID.
func (h *Handler) show(w http.ResponseWriter, r *http.Request, id string) (int, error) {
	key, by, err := h.authenticateQuery(r)
	if err != nil {
		return 0, err
	}
	inv, err := h.svc.Invite(r.Context(), by, key.Host, id)
	if err != nil {
		return 0, err
	}
	return writeJSON(w, http.StatusOK, NewInviteWithUses(inv, h.now()))
}

// patch answers PATCH BasePath/invites/ID: a JSON merge patch (RFC 7396) of
// expires_at, max_uses and note.
func (h *Handler) patch(w http.ResponseWriter, r *http.Request, id string) (int, error) {
	key, by, err := h.authenticateQuery(r)
	if err != nil {
		return 0, err
	}
	data, err := h.readPatch(r)
	if err != nil {
		return 0, err
	}
	// Every refusal of the change is reported at once: the patch's and the invite's.
	change, refused := core.ParseInvitePatch(data)
	change.Refused = refused
	inv, err := h.svc.UpdateInvite(r.Context(), by, key.Host, id, change)
	if err != nil {
		return 0, err
	}
	return writeJSON(w, http.StatusOK, NewInviteWithUses(inv, h.now()))
}

// revoke answers DELETE BasePath/invites/ID: 204, also for an invite revoked before.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request, id string) (int, error) {
	key, by, err := h.authenticateQuery(r)
	if err != nil {
		return 0, err
	}
	if _, err := h.svc.RevokeInvite(r.Context(), by, key.Host, id); err != nil {
		return 0, err
	}
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent, nil
}

// authenticateQuery authenticates a request whose only parameter is the credential.
func (h *Handler) authenticateQuery(r *http.Request) (core.Key, core.Actor, error) {
	cred, err := queryCredential(r)
	if err != nil {
		return core.Key{}, core.Actor{}, err
	}
	return h.authenticate(r, cred)
}

// patchTypes are the media types a PATCH body may have.
var patchTypes = []string{"application/merge-patch+json", "application/json"}

// readPatch reads a PATCH body of at most maxBody bytes, of a JSON type.
func (h *Handler) readPatch(r *http.Request) ([]byte, error) {
	body, err := h.readBody(r, patchTypes)
	if err != nil {
		return nil, err
	}
	if len(body) == 0 {
		return nil, badRequest("the change must be a JSON object with expires_at, max_uses or note")
	}
	return body, nil
}

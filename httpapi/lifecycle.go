package httpapi

import (
	"errors"
	"net/http"

	"github.com/xmpp-invites/invites/internal/core"
)

// This file serves the invite lifecycle: BasePath/invites (list) and
// BasePath/invites/ID (show, change, revoke), JSON only, with the credentials of
// creation. A key sees and changes the invites it made; a key with Manage every invite
// of its host; any other invite is 404, so that its existence does not show.

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
	page, err := h.svc.ListInvites(r.Context(), by, core.InviteQuery{Host: key.Host, Status: p.status, Limit: p.limit, Cursor: p.cursor,
		ExpiringWithin: p.expiringWithin})
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

package httpapi

import (
	"net/http"

	"github.com/xmpp-invites/invites/internal/core"
)

// This file is what an invite reports back over the API (issue 25): its email and
// its delivery, its welcome message and its funnel in the invite object, and
// POST BasePath/invites/ID/resend.

// reports adds what the invite reports back to its description.
func reports(b *Invite, inv core.Invite) {
	f := inv.Funnel
	b.Funnel = &Funnel{PageOpened: f.PageOpened, RegistrationStarted: f.RegistrationStarted,
		AccountCreated: f.AccountCreated, FirstLogin: f.FirstLogin, StillActive: f.StillActive}
	b.Welcome = inv.Welcome
	if inv.Mail.Status != "" {
		b.Email = &InviteEmail{Address: inv.Email, Status: string(inv.Mail.Status), Error: inv.Mail.Error,
			UpdatedAt: wireTime(inv.Mail.At)}
	}
}

// resend answers POST BasePath/invites/ID/resend: the invite is mailed again (to the
// email parameter when given, else to its address) with a fresh token, and every
// earlier link dies; 202 with the invite.
func (h *Handler) resend(w http.ResponseWriter, r *http.Request, id string) (int, error) {
	p, err := h.readParams(r)
	if err != nil {
		return 0, err
	}
	key, by, err := h.authenticate(r, p.credential)
	if err != nil {
		return 0, err
	}
	if p.refused != nil {
		return 0, p.refused
	}
	inv, err := h.svc.ResendInvite(r.Context(), by, key.Host, id, p.email)
	if err != nil {
		return 0, err
	}
	w.Header().Set("Location", h.base+"/invites/"+inv.ID)
	return writeJSON(w, http.StatusAccepted, NewInviteWithUses(inv, h.now()))
}

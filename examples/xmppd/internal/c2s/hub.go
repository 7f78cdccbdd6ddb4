package c2s

import (
	"fmt"
	"sync"

	"mellium.im/xmpp/jid"
)

// hub knows the bound sessions, by account and resource, so that stanzas can be
// routed between them.
type hub struct {
	mu       sync.Mutex
	accounts map[string]map[string]*conn // bare JID → resource → session
}

func newHub() *hub { return &hub{accounts: map[string]map[string]*conn{}} }

// maxBindAttempts bounds the tries to find a free random resource.
const maxBindAttempts = 16

// bind chooses the full JID of c, a new session of account: the requested resource
// if it is valid and free, a random one otherwise (RFC 6120 §7.7.2.2), and records it.
func (h *hub) bind(account jid.JID, requested string, c *conn) (jid.JID, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	bare := account.Bare().String()
	res := h.accounts[bare]
	if res == nil {
		res = map[string]*conn{}
		h.accounts[bare] = res
	}
	if requested != "" {
		if j, err := account.WithResource(requested); err == nil {
			if _, taken := res[j.Resourcepart()]; !taken {
				res[j.Resourcepart()] = c
				return j, nil
			}
			requested = j.Resourcepart() + "-"
		} else {
			requested = ""
		}
	}
	for range maxBindAttempts {
		j, err := account.WithResource(requested + randomID(6))
		if err != nil {
			return jid.JID{}, fmt.Errorf("c2s: making a resource: %w", err)
		}
		if _, taken := res[j.Resourcepart()]; !taken {
			res[j.Resourcepart()] = c
			return j, nil
		}
	}
	return jid.JID{}, fmt.Errorf("c2s: no free resource for %s", bare)
}

// unbind forgets the session bound to full, if it is c.
func (h *hub) unbind(full jid.JID, c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	bare := full.Bare().String()
	res := h.accounts[bare]
	if res[full.Resourcepart()] == c {
		delete(res, full.Resourcepart())
	}
	if len(res) == 0 {
		delete(h.accounts, bare)
	}
}

// sessions returns the sessions of the account bare.
func (h *hub) sessions(bare string) []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	res := h.accounts[bare]
	out := make([]*conn, 0, len(res))
	for _, c := range res {
		out = append(out, c)
	}
	return out
}

// session returns the session bound to the full JID, or nil.
func (h *hub) session(full jid.JID) *conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.accounts[full.Bare().String()][full.Resourcepart()]
}

// available returns the sessions of bare that sent available presence.
func (h *hub) available(bare string) []*conn {
	var out []*conn
	for _, c := range h.sessions(bare) {
		if c.isAvailable() {
			out = append(out, c)
		}
	}
	return out
}

// interested returns the sessions of bare that asked for the roster (they get
// roster pushes, RFC 6121 §2.1.6).
func (h *hub) interested(bare string) []*conn {
	var out []*conn
	for _, c := range h.sessions(bare) {
		c.pmu.Lock()
		ok := c.interested
		c.pmu.Unlock()
		if ok {
			out = append(out, c)
		}
	}
	return out
}

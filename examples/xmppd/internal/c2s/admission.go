package c2s

import (
	"net/netip"
	"slices"
	"sync"
)

// admission decides which connections the server holds, in one place: the
// MaxConnections slots everyone shares, the connections of an address (see addrKey)
// that have not authenticated (MaxPendingPerAddr), and the sessions of an account
// (MaxSessionsPerAccount) and of an address (MaxSessionsPerAddr) once authenticated.
//
// When every slot is taken, a new connection takes the slot of an unauthenticated
// one, the oldest of the address holding the most (and more than the newcomer's), if
// it is not registering with a valid invitation: many addresses that connect and
// wait, or ask for the registration form, cannot keep others (an administrator) out,
// and while they are more than one address's share, they evict each other.
// An authenticated session is never evicted.
//
// The fields of conn it keeps (slot, pendingKey, session*) are guarded by its mutex.
type admission struct {
	maxConns       int
	maxPending     int
	maxPerAccount  int
	maxPerAddr     int
	mu             sync.Mutex
	open           int                      // connections holding a slot
	pending        map[netip.Prefix][]*conn // unauthenticated, oldest first
	sessions       map[string]int           // authenticated sessions per account (bare JID)
	sessionsByAddr map[netip.Prefix]int     // authenticated sessions per address
}

// newAdmission makes the admission of a server configured by cfg.
func newAdmission(cfg Config) *admission {
	return &admission{
		maxConns:       cfg.MaxConnections,
		maxPending:     cfg.MaxPendingPerAddr,
		maxPerAccount:  cfg.MaxSessionsPerAccount,
		maxPerAddr:     cfg.MaxSessionsPerAddr,
		pending:        map[netip.Prefix][]*conn{},
		sessions:       map[string]int{},
		sessionsByAddr: map[netip.Prefix]int{},
	}
}

// Why a connection or a login is refused.
type refusal int

const (
	admitted refusal = iota
	tooManyPending
	tooManyConnections
	tooManyForAccount
	tooManyForAddr
)

// admit counts a new connection c. It returns why it is refused, or the connection
// whose slot c took (to be closed by the caller), or neither.
func (a *admission) admit(c *conn) (refusal, *conn) {
	k := addrKey(c.remote)
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending[k]) >= a.maxPending {
		return tooManyPending, nil
	}
	var victim *conn
	if a.open >= a.maxConns {
		victim = a.victim(len(a.pending[k]))
		if victim == nil {
			return tooManyConnections, nil
		}
		a.drop(victim)
		victim.slot = false // c takes it over
	} else {
		a.open++
	}
	c.slot = true
	c.pendingKey = k
	a.pending[k] = append(a.pending[k], c)
	return admitted, victim
}

// victim returns the unauthenticated connection a newcomer whose address holds
// mine of them may evict: the oldest that is not registering, of the address holding
// the most, if it holds more than mine; nil if there is none. a.mu is held.
func (a *admission) victim(mine int) *conn {
	var best []*conn
	for _, cs := range a.pending {
		if len(cs) > mine && len(cs) > len(best) && slices.ContainsFunc(cs, evictable) {
			best = cs
		}
	}
	if i := slices.IndexFunc(best, evictable); i >= 0 {
		return best[i]
	}
	return nil
}

// evictable reports whether an unauthenticated connection may lose its slot: not
// once it showed a valid invitation (a person registering).
func evictable(c *conn) bool { return !c.invited.Load() }

// drop removes c from the unauthenticated connections of its address; a.mu is held.
func (a *admission) drop(c *conn) {
	if !c.pendingKey.IsValid() {
		return
	}
	k := c.pendingKey
	c.pendingKey = netip.Prefix{}
	if a.pending[k] = slices.DeleteFunc(a.pending[k], func(o *conn) bool { return o == c }); len(a.pending[k]) == 0 {
		delete(a.pending, k)
	}
}

// login moves c, authenticated as the bare JID account, from the unauthenticated
// connections to the sessions, within the caps of its account and address unless
// unlimited (an administrator). It returns why it is refused; a refused c stays
// unauthenticated.
func (a *admission) login(c *conn, account string, unlimited bool) refusal {
	k := addrKey(c.remote)
	a.mu.Lock()
	defer a.mu.Unlock()
	if !unlimited {
		switch {
		case a.sessions[account] >= a.maxPerAccount:
			return tooManyForAccount
		case a.sessionsByAddr[k] >= a.maxPerAddr:
			return tooManyForAddr
		}
	}
	a.drop(c)
	a.sessions[account]++
	a.sessionsByAddr[k]++
	c.sessionAccount, c.sessionKey = account, k
	return admitted
}

// release uncounts c when it ends, from whatever it was counted in.
func (a *admission) release(c *conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.drop(c)
	if c.sessionAccount != "" {
		if a.sessions[c.sessionAccount]--; a.sessions[c.sessionAccount] <= 0 {
			delete(a.sessions, c.sessionAccount)
		}
		if a.sessionsByAddr[c.sessionKey]--; a.sessionsByAddr[c.sessionKey] <= 0 {
			delete(a.sessionsByAddr, c.sessionKey)
		}
		c.sessionAccount = ""
	}
	if c.slot {
		c.slot = false
		a.open--
	}
}

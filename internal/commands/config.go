package commands

import (
	"fmt"
	"time"

	"github.com/xmpp-invites/invites/internal/commands/session"
	"github.com/xmpp-invites/invites/internal/core"
)

// Config is the [commands] table of the plugin's config: it bounds the ad-hoc command
// sessions (XEP-0050) that people fill in by hand.
// The zero value of each field means its documented default, filled by Normalize.
type Config struct {
	// SessionTimeout ends a command session idle this long: a later step of it gets
	// session-expired. Default [session.DefaultTimeout].
	SessionTimeout core.Duration `toml:"session_timeout"`
	// MaxSessions bounds the open sessions of one requester (full JID): a new one
	// replaces the requester's least recently used session.
	// Default [session.DefaultMaxSessions]; from 1 to [maxSessionsBound].
	MaxSessions int `toml:"max_sessions"`
}

// maxSessionsBound bounds Config.MaxSessions.
const maxSessionsBound = 1000

// Normalize fills the defaults of c and checks it; each error names its key.
func (c *Config) Normalize() error {
	if c.SessionTimeout == 0 {
		c.SessionTimeout = core.Duration(session.DefaultTimeout)
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = session.DefaultMaxSessions
	}
	if c.MaxSessions < 1 || c.MaxSessions > maxSessionsBound {
		return fmt.Errorf("max_sessions: %d is not between 1 and %d", c.MaxSessions, maxSessionsBound)
	}
	return nil
}

// Sessions returns the session options c decides; the caller adds the Logger.
func (c Config) Sessions() session.Options {
	return session.Options{Timeout: time.Duration(c.SessionTimeout), MaxSessions: c.MaxSessions}
}

package commands_test

import (
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/commands"
	"github.com/xmpp-invites/invites/internal/commands/session"
	"github.com/xmpp-invites/invites/internal/core"
)

// TestConfig: the zero [commands] table takes the sessions' own defaults; a bound
// outside 1 to 1000 is refused naming the key.
func TestConfig(t *testing.T) {
	for i, tc := range [...]struct {
		in      commands.Config
		want    session.Options
		wantErr string
	}{
		0: {want: session.Options{Timeout: session.DefaultTimeout, MaxSessions: session.DefaultMaxSessions}},
		1: {in: commands.Config{SessionTimeout: core.Duration(time.Minute), MaxSessions: 3},
			want: session.Options{Timeout: time.Minute, MaxSessions: 3}},
		2: {in: commands.Config{MaxSessions: -1}, wantErr: "max_sessions: -1 is not between 1 and 1000"},
		3: {in: commands.Config{MaxSessions: 1001}, wantErr: "max_sessions: 1001 is not between 1 and 1000"},
	} {
		c := tc.in
		err := c.Normalize()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%d: err = %v, want %q", i, err, tc.wantErr)
			}
			continue
		}
		if got := c.Sessions(); err != nil || got.Timeout != tc.want.Timeout || got.MaxSessions != tc.want.MaxSessions {
			t.Errorf("%d: %+v, %v; want %+v", i, got, err, tc.want)
		}
	}
}

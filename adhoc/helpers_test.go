package adhoc_test

import (
	"testing"

	"github.com/xmpp-invites/invites/internal/commands/session"
	"github.com/xmpp-invites/invites/internal/commands/session/sessiontest"
)

// The Handler's tests run the plugin's real engine (session.Server) behind it, with
// the commands of sessiontest.Wizard.

const (
	host  = sessiontest.Host
	alice = sessiontest.Alice
	bob   = sessiontest.Bob
)

var (
	newClock = sessiontest.NewClock
	submit   = sessiontest.Submit
	roleOf   = sessiontest.Role
	condOf   = sessiontest.Cond
)

func testServer(t *testing.T, opts session.Options) *session.Server {
	t.Helper()
	s, err := sessiontest.Wizard(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

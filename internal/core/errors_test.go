package core_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/core"
)

func TestErrorsDoNotEchoHugeInput(t *testing.T) {
	huge := strings.Repeat("x", 100_000)
	_, err1 := core.ParseDuration(huge)
	_, err2 := core.ParseRate("1/" + huge)
	_, err3 := core.NormalizeUsername(huge + "@")
	for i, err := range []error{err1, err2, err3} {
		if !errors.Is(err, core.ErrInvalid) || len(err.Error()) > 200 {
			t.Errorf("%d: %d bytes: %.80q", i, len(err.Error()), err)
		}
	}
}

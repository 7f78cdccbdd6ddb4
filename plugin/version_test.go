package plugin

import (
	"strconv"
	"strings"
	"testing"
)

// TestOfferedVersion: a host that offers this protocol version, or says nothing, is
// served; one that offers only others gets a message naming both versions and what to
// do.
func TestOfferedVersion(t *testing.T) {
	this := strconv.Itoa(ProtocolVersion)
	for i, tc := range []struct {
		offered string
		ok      bool
	}{
		0: {"", true},
		1: {this, true},
		2: {"1,2," + this, true},
		3: {"2", false},
		4: {"1,2", false},
		5: {"4", false},
	} {
		err := offeredVersion(tc.offered)
		if (err == nil) != tc.ok {
			t.Errorf("%d: offered %q: %v", i, tc.offered, err)
			continue
		}
		if err != nil && (!strings.Contains(err.Error(), "protocol version "+this) ||
			!strings.Contains(err.Error(), "server protocol version "+tc.offered) || !strings.Contains(err.Error(), "install")) {
			t.Errorf("%d: %q does not name both versions and what to do", i, err)
		}
	}
}

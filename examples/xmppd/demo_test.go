package main

import (
	"net"
	"strings"
	"testing"
)

// TestPhoneHint: the demo's phone hint names the ports xmppd was given, not 5222 and
// 5280 (issue 22).
func TestPhoneHint(t *testing.T) {
	for i, tc := range []struct {
		c2s, http string
		want      string
	}{
		0: {"127.0.0.1:15222", "127.0.0.1:15280", "-http 0.0.0.0:15280 -http-url http://THIS-MACHINE:15280 -c2s 0.0.0.0:15222"},
		1: {"[::1]:5222", "[::1]:5280", "-http 0.0.0.0:5280 -http-url http://THIS-MACHINE:5280 -c2s 0.0.0.0:5222"},
		2: {"0.0.0.0:40001", "127.0.0.1:40002", "-http 0.0.0.0:40002 -http-url http://THIS-MACHINE:40002 -c2s 0.0.0.0:40001"},
	} {
		c2s, err := net.ResolveTCPAddr("tcp", tc.c2s)
		if err != nil {
			t.Fatal(err)
		}
		if got := phoneHint(c2s, tc.http); !strings.Contains(got, tc.want) {
			t.Errorf("%d: %q, want it to hold %q", i, got, tc.want)
		}
	}
}

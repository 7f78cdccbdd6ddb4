package store_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// TestConfigNormalize: the zero Config is the SQLite file in ./data, power-loss
// durable; a store address or durability it cannot use is refused naming the key and
// what it accepts.
func TestConfigNormalize(t *testing.T) {
	for i, tc := range [...]struct {
		in      store.Config
		addr    string
		dur     sqlite.Durability
		wantErr []string
	}{
		0: {addr: filepath.Join(store.DefaultDataDir, store.DefaultFile), dur: sqlite.DefaultDurability},
		1: {in: store.Config{DataDir: "/d", Durability: sqlite.DurabilityCrash}, addr: "/d/invites.db", dur: sqlite.DurabilityCrash},
		2: {in: store.Config{Store: "postgres://db/x"}, addr: "postgres://db/x", dur: sqlite.DefaultDurability},
		3: {in: store.Config{Store: "postgress://db/x", Durability: "fast"},
			wantErr: []string{`store: the store address has the unknown scheme "postgress"`, `durability "fast" is not known: use "crash" or "power-loss"`}},
	} {
		c := tc.in
		err := c.Normalize()
		if tc.wantErr == nil {
			if err != nil || c.Address() != tc.addr || c.Durability != tc.dur {
				t.Errorf("%d: %q %q %v, want %q %q", i, c.Address(), c.Durability, err, tc.addr, tc.dur)
			}
			continue
		}
		for _, w := range tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%d: err = %v, want %q", i, err, w)
			}
		}
	}
}

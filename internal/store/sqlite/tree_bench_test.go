package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
	"github.com/xmpp-invites/invites/internal/store/storetest"
)

// BenchmarkTree reads a page of the tree (core.DefaultTreeLimit nodes) of a community
// of 100,000 accounts (storetest.NewBigTree: 6 or more generations) from its root, an
// account halfway down, a leaf and an invite, and the root's next page, at the store
// level (issue 24 asks for under 50 ms for any node):
//
//	go test -run '^$' -bench Tree ./internal/store/sqlite
func BenchmarkTree(b *testing.B) {
	tree := storetest.NewBigTree(100_000)
	st := open(b, filepath.Join(b.TempDir(), "invites.db"), sqlite.Options{Durability: sqlite.DurabilityCrash})
	if err := st.SeedTree(b.Context(), tree.Invites, tree.Accounts); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d accounts, %d invites, %d generations", len(tree.Accounts), len(tree.Invites), tree.Depth)
	benchTree(b, st, tree)
}

// benchTree runs the probes of tree on st.
func benchTree(b *testing.B, st core.Store, tree *storetest.BigTree) {
	ctx := b.Context()
	root := tree.Probes["root"]
	first, err := st.Tree(ctx, root)
	if err != nil || len(first) != root.Limit {
		b.Fatalf("root page: %d nodes, %v", len(first), err)
	}
	second := root
	second.After = first[len(first)-2].Path
	probes := map[string]core.TreeQuery{"root-page-2": second}
	for name, q := range tree.Probes {
		probes[name] = q
	}
	for _, name := range []string{"root", "root-page-2", "middle", "leaf", "invite"} {
		q := probes[name]
		b.Run(name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				nodes, err := st.Tree(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				n = len(nodes)
			}
			b.ReportMetric(float64(n), "nodes")
		})
	}
}

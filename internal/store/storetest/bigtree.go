package storetest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// BigTree is a community grown by invitation, for the tree's benchmarks: one root
// account, whose invites made accounts, whose invites made more, generation after
// generation, with the fan-out of a real community (an account makes 0 to 6 invites,
// 3 on average; an invite makes 1 to 4 accounts, 2.5 on average), until it holds the
// number of accounts asked. The stores seed it at once (their own raw inserts), and
// the benchmarks read it through Store.Tree from the nodes of Probes.
type BigTree struct {
	// Host is the domain, "example.com".
	Host string
	// Invites are the invites, used up, in creation order.
	Invites []core.Invite
	// Accounts are the accounts, in creation order (the root first); Seq is left to
	// the store, which numbers them in this order.
	Accounts []core.Account
	// Depth is the number of generations below the root.
	Depth int
	// Probes are the trees read by the benchmarks: "root" (the whole community),
	// "middle" (an account halfway down), "leaf" (an account of the last generation),
	// "invite" (one of the root's invites).
	Probes map[string]core.TreeQuery
}

// bigSortable is core's ID alphabet (base64url in ASCII order).
var bigSortable = base64.NewEncoding("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz").WithPadding(base64.NoPadding)

// NewBigTree grows a community of n accounts, the same for a given n.
func NewBigTree(n int) *BigTree {
	r := rand.New(rand.NewPCG(uint64(n), 24))
	t := &BigTree{Host: "example.com", Probes: map[string]core.TreeQuery{}}
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tick := 0
	next := func() time.Time {
		tick++
		return start.Add(time.Duration(tick) * time.Millisecond)
	}
	root := core.Account{Host: t.Host, JID: "root@example.com", State: core.AccountActive, CreatedAt: next()}
	t.Accounts = append(t.Accounts, root)
	type gen struct{ first, last int } // accounts of a generation, by index
	g := gen{0, 1}
	var generations []gen
	for len(t.Accounts) < n && g.last > g.first {
		generations = append(generations, g)
		nextFirst := len(t.Accounts)
		for i := g.first; i < g.last && len(t.Accounts) < n; i++ {
			a := t.Accounts[i]
			count := r.IntN(7)
			if i == 0 {
				count = 6 // the root invites many
			}
			for range count {
				at := next()
				var b [11]byte
				binary.BigEndian.PutUint64(b[:8], uint64(at.UnixMilli()))
				b[8], b[9], b[10] = byte(tick>>16), byte(tick>>8), byte(tick)
				id := bigSortable.EncodeToString(b[2:])
				h := sha256.Sum256([]byte(id))
				uses := 1 + r.IntN(4)
				inv := core.Invite{ID: id, TokenHash: h[:], Host: t.Host, Kind: core.KindContact, Inviter: "u",
					AllowRegister: true, CreatedBy: "xmpp:" + a.JID, ByUser: i > 0, MaxUses: uses, Uses: uses,
					CreatedAt: at, ExpiresAt: at.Add(core.DefaultInviteTTL), EndedAt: at}
				t.Invites = append(t.Invites, inv)
				for range uses {
					if len(t.Accounts) >= n {
						break
					}
					t.Accounts = append(t.Accounts, core.Account{Host: t.Host, State: core.AccountActive,
						JID: fmt.Sprintf("u%d@example.com", len(t.Accounts)), CreatedAt: next(),
						InviteID: inv.ID, Inviter: inv.CreatedBy, InviteCreatedAt: inv.CreatedAt})
				}
			}
		}
		g = gen{nextFirst, len(t.Accounts)}
	}
	t.Depth = len(generations)
	if g.last > g.first {
		t.Depth++
	}
	q := func(a core.Account) core.TreeQuery {
		return core.TreeQuery{Host: t.Host, Creator: "xmpp:" + a.JID, Since: a.CreatedAt, Depth: core.MaxTreeDepth, Limit: core.DefaultTreeLimit + 1}
	}
	t.Probes["root"] = q(root)
	mid := generations[len(generations)/2]
	t.Probes["middle"] = q(t.Accounts[(mid.first+mid.last)/2])
	t.Probes["leaf"] = q(t.Accounts[len(t.Accounts)-1])
	t.Probes["invite"] = core.TreeQuery{Host: t.Host, Invite: t.Invites[0].ID, Depth: core.MaxTreeDepth, Limit: core.DefaultTreeLimit + 1}
	return t
}

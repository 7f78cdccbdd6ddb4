package main_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
)

// node is one xmppd process with its own plugin process and data directory.
type node struct {
	name  string
	srv   *proc
	data  string
	cli   pluginCLI
	admin commander
}

// TestTwoNodes runs two server nodes (xmppd A and B, each with its own plugin
// process and data directory) whose plugins share one PostgreSQL schema, and checks
// that keys, invites, redemptions and key rates are shared between them.
// Node A's plugin finds the database in its config file (xmppd -plugin-config), node
// B's in INVITES_STORE, which go-plugin passes from xmppd's environment to the plugin;
// the command line of each node is pointed at it the same way.
// Both serve the domain localhost, so that one key is valid on both.
func TestTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := binaries(t)
	// First, so that the schema is dropped after both servers have stopped.
	_, dsn := pgtest.Schema(t)
	work := t.TempDir()

	start := func(name string, env []string, globals, args []string) *node {
		t.Helper()
		dir := filepath.Join(work, name)
		data := filepath.Join(dir, "data")
		addUser(t, bin, data, "admin@localhost", "admin secret")
		// 50 registrations at once from one address: more than the default allows
		// an address before login.
		srv := startServerEnv(t, bin, dir, env, append([]string{"-data", data, "-admin", "admin@localhost",
			"-max-unauthenticated-per-addr", "200"}, args...)...)
		return &node{name: name, srv: srv, data: data, cli: pluginCLI{bin: bin, env: env, args: append([]string{"-data", data}, globals...)}}
	}
	configA := writeFile(t, work, "invites-a.toml", fmt.Sprintf("store = %q\n", dsn))
	// INVITES_STORE would override A's config file: A's processes get it empty.
	a := start("a", []string{"INVITES_STORE="}, []string{"-config", configA}, []string{"-plugin-config", configA})
	b := start("b", []string{"INVITES_STORE=" + dsn}, nil, nil)
	nodes := []*node{a, b}

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for _, n := range nodes {
		// Neither plugin fell back to its own SQLite file.
		if _, err := os.Stat(filepath.Join(n.data, "invites.db")); !os.IsNotExist(err) {
			t.Fatalf("node %s has a SQLite invite store: %v", n.name, err)
		}
		s, err := testclient.Login(ctx, n.srv.c2s, "admin", "admin secret", sasl.ScramSha256)
		if err != nil {
			t.Fatalf("node %s: admin login: %v", n.name, err)
		}
		defer s.Close()
		n.admin = commander{s}
	}
	status := func(n *node, key string) int {
		t.Helper()
		s, _, err := getInvite(ctx, nil, n.srv.http, key, httpapi.CreateParams{})
		if s == 0 {
			t.Fatalf("node %s: %v", n.name, err)
		}
		return s
	}

	t.Run("keys", func(t *testing.T) {
		// Created on A's command line: it authenticates on B, and B's
		// administrator sees it.
		k1, err := a.cli.createKey(ctx, "made-on-a")
		if err != nil {
			t.Fatal(err)
		}
		if s := status(b, k1); s != http.StatusCreated {
			t.Fatalf("key from A's command line on B: %d, want 201", s)
		}
		rows, err := b.admin.listKeys(ctx)
		if err != nil || rows[keyID(k1)]["name"] != "made-on-a" {
			t.Fatalf("B's keys#list: %v %v", rows, err)
		}
		// Its use on B reaches A's list once B's plugin has flushed its bookkeeping.
		if !eventually(10*time.Second, func() bool {
			rows, err := a.admin.listKeys(ctx)
			return err == nil && rows[keyID(k1)]["uses"] == "1"
		}) {
			t.Errorf("the use on B never showed on A")
		}
		if s := status(a, k1); s != http.StatusCreated {
			t.Fatalf("key on A: %d", s)
		}

		// Deleted on B by ad-hoc command: A rejects it from the next request on.
		form, err := b.admin.execute(ctx, nodeDeleteKeys)
		if err != nil {
			t.Fatal(err)
		}
		if done, err := b.admin.complete(ctx, form, map[string][]string{"keys": {keyID(k1)}}); err != nil || len(done.Notes) == 0 {
			t.Fatalf("keys#delete on B: %+v %v", done, err)
		}
		if s := status(a, k1); s != http.StatusForbidden {
			t.Errorf("key deleted on B by ad-hoc, on A: %d, want 403", s)
		}

		// Created by ad-hoc on A, deleted on B's command line: the same.
		done, err := a.admin.createKey(ctx, map[string][]string{"name": {"adhoc-on-a"}})
		if err != nil {
			t.Fatal(err)
		}
		k2 := done.Form.Value("key")
		if s := status(b, k2); s != http.StatusCreated {
			t.Fatalf("ad-hoc key from A on B: %d, want 201", s)
		}
		if _, err := b.cli.run(ctx, "keys", "delete", "localhost", "--", keyID(k2)); err != nil {
			t.Fatal(err)
		}
		if s := status(a, k2); s != http.StatusForbidden {
			t.Errorf("key deleted on B's command line, on A: %d, want 403", s)
		}
		if rows, err := a.admin.listKeys(ctx); err != nil || rows[keyID(k1)] != nil || rows[keyID(k2)] != nil {
			t.Errorf("A's keys#list after the deletes on B: %v %v", rows, err)
		}
	})

	key, err := a.cli.createKey(ctx, "invites")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("invite from A redeemed on B", func(t *testing.T) {
		s, token, err := createInvite(ctx, a.srv.http, key)
		if err != nil || s != http.StatusCreated {
			t.Fatalf("invite on A: %d %v", s, err)
		}
		registerInvited(ctx, t, b.srv.c2s, token, "", "bob")
		// Used up on B, it is refused on A too.
		if el, err := registerWithToken(ctx, a.srv.c2s, token, "bob2", "pw"); err == nil || !strings.Contains(el.Inner, "item-not-found") {
			t.Errorf("the token used on B, on A: %v %v", el, err)
		}
	})

	t.Run("one token raced on both nodes", func(t *testing.T) {
		s, token, err := createInvite(ctx, a.srv.http, key)
		if err != nil || s != http.StatusCreated {
			t.Fatalf("invite on A: %d %v", s, err)
		}
		// 100 streams, 50 on each node, each with the token validated (pre-auth),
		// then all registering at once, each under its own name.
		const perNode = 50
		type racer struct {
			n    *node
			user string
			c    *testclient.Client
			res  testclient.Element
			err  error
		}
		racers := make([]*racer, 0, 2*perNode)
		for i := range 2 * perNode {
			racers = append(racers, &racer{n: nodes[i%2], user: fmt.Sprintf("racer%03d", i)})
		}
		var wg sync.WaitGroup
		for _, r := range racers {
			wg.Go(func() {
				r.c, r.err = testclient.Dial(ctx, r.n.srv.c2s, "localhost", testclient.Options{})
				if r.err != nil {
					return
				}
				el, err := r.c.IQ(`<iq type='set' id='pa'><preauth xmlns='urn:xmpp:pars:0' token='` + token + `'/></iq>`)
				if err == nil && el.Attr("type") != "result" {
					err = fmt.Errorf("pre-auth: %v", el)
				}
				r.err = err
			})
		}
		wg.Wait()
		for _, r := range racers {
			if r.c != nil {
				defer r.c.Close()
			}
			if r.err != nil {
				t.Fatalf("%s on %s before the race: %v", r.user, r.n.name, r.err)
			}
		}
		began := time.Now()
		release := make(chan struct{})
		for _, r := range racers {
			wg.Go(func() {
				<-release
				r.res, r.err = r.c.IQ(registerIQ(r.user, pw(r.user)))
			})
		}
		close(release)
		wg.Wait()
		took := time.Since(began)

		var winners []*racer
		perNodeWins := map[string]int{}
		for _, r := range racers {
			switch {
			case r.err != nil:
				t.Errorf("%s on %s: %v", r.user, r.n.name, r.err)
			case r.res.Attr("type") == "result":
				winners = append(winners, r)
				perNodeWins[r.n.name]++
			case r.res.Attr("type") != "error" || !strings.Contains(r.res.Inner, "item-not-found"):
				t.Errorf("%s on %s lost with %v, want item-not-found", r.user, r.n.name, r.res)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("%d registrations succeeded (%v), want exactly 1", len(winners), perNodeWins)
		}
		t.Logf("100 registrations with one token on two nodes: 1 account (%s on node %s), 99 refused, in %v",
			winners[0].user, winners[0].n.name, took)

		// The account stores of both nodes hold exactly that one account of the 100
		// names, and a loser's name, reserved while it raced, was given back.
		var created []string
		for _, n := range nodes {
			st, err := accounts.Open(ctx, filepath.Join(n.data, accounts.FileName), accounts.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for _, r := range racers {
				if ok, err := st.Exists(ctx, r.user+"@localhost"); err != nil {
					t.Fatal(err)
				} else if ok {
					created = append(created, r.user+" on "+n.name)
				}
			}
		}
		for _, r := range racers[:2] { // one of each node
			if r == winners[0] {
				continue
			}
			st, err := accounts.Open(ctx, filepath.Join(r.n.data, accounts.FileName), accounts.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if err := st.Add(ctx, r.user+"@localhost", "pw"); err != nil {
				t.Errorf("the name %s that lost on %s is still held: %v", r.user, r.n.name, err)
			}
		}
		if want := winners[0].user + " on " + winners[0].n.name; len(created) != 1 || created[0] != want {
			t.Fatalf("accounts created: %v, want [%s]", created, want)
		}
		w, err := testclient.Login(ctx, winners[0].n.srv.c2s, winners[0].user, pw(winners[0].user), sasl.ScramSha256)
		if err != nil {
			t.Fatalf("the winner logs in: %v", err)
		}
		_ = w.Close()
	})

	t.Run("key rate across nodes", func(t *testing.T) {
		// With the rate 10/h, the database's GCRA allows a burst of N = 10 and then one
		// more every Period/N = 6 minutes, over all nodes together: in a span T it
		// allows at most N + ⌊T·N/Period⌋ (internal/store/postgres, "Rate limit"); both
		// nodes read one clock here, so no skew term. Per-node limiters would allow 2N.
		const (
			n       = 10
			period  = time.Hour
			perNode = 100
			workers = 16
		)
		limited, err := a.cli.createKey(ctx, "limited", "--rate", fmt.Sprintf("%d/h", n))
		if err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
		defer client.CloseIdleConnections()
		type result struct {
			node       string
			status     int
			retryAfter time.Duration
			err        error
		}
		jobs := make(chan *node)
		results := make(chan result, 2*perNode)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for nd := range jobs {
					s, _, err := getInvite(ctx, client, nd.srv.http, limited, httpapi.CreateParams{})
					r := result{node: nd.name, status: s}
					if e, ok := errors.AsType[*httpapi.Error](err); ok {
						r.retryAfter = e.RetryAfter
					} else {
						r.err = err
					}
					results <- r
				}
			})
		}
		began := time.Now()
		for i := range 2 * perNode {
			jobs <- nodes[i%2]
		}
		close(jobs)
		wg.Wait()
		span := time.Since(began)
		close(results)

		created := map[string]int{}
		refused := map[string]int{}
		for r := range results {
			switch {
			case r.err != nil:
				t.Errorf("node %s: %v", r.node, r.err)
			case r.status == http.StatusCreated:
				created[r.node]++
			case r.status == http.StatusTooManyRequests && r.retryAfter > 0:
				refused[r.node]++
			default:
				t.Errorf("node %s: status %d (Retry-After %v), want 201 or 429 with Retry-After", r.node, r.status, r.retryAfter)
			}
		}
		total := created["a"] + created["b"]
		bound := n + int(span*n/period)
		t.Logf("rate %d/h hammered with %d requests on each node in %v: 201 on A %d, on B %d (total %d, bound %d); 429 on A %d, on B %d",
			n, perNode, span, created["a"], created["b"], total, bound, refused["a"], refused["b"])
		// At least the burst: a denial never uses up budget, and the later requests
		// read a clock past the first allowed one's, so all N slots are taken.
		if total > bound || total < n {
			t.Errorf("%d invites created across both nodes, want %d..%d", total, n, bound)
		}
		if refused["a"]+refused["b"] != 2*perNode-total {
			t.Errorf("%d refused with 429, want the other %d", refused["a"]+refused["b"], 2*perNode-total)
		}
	})
}

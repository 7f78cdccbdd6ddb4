package core_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// cli is the command line's actor.
var cli = core.Actor{Kind: core.ActorCLI}

// clock is a settable time source for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a Service over a real SQLite store in a temporary directory.
type env struct {
	svc   *core.Service
	store *sqlite.Store
	clock *clock
	path  string
}

// newService returns a Service for example.com (and any extra hosts) with a fake clock.
func newService(t *testing.T, hosts ...core.HostConfig) (*core.Service, *sqlite.Store, *clock) {
	e := newEnv(t, hosts...)
	return e.svc, e.store, e.clock
}

func newEnv(t *testing.T, hosts ...core.HostConfig) *env { return newEnvTB(t, hosts...) }

func newEnvTB(t testing.TB, hosts ...core.HostConfig) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "invites.db")
	st, err := sqlite.Open(t.Context(), path, sqlite.Options{Durability: sqlite.DurabilityCrash})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if len(hosts) == 0 {
		hosts = []core.HostConfig{{Domain: "example.com"}}
	}
	c := &clock{t: time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)}
	svc, err := core.NewService(core.Options{Store: st, Hosts: hosts, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, store: st, clock: c, path: path}
}

func TestNewServiceRejects(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tests := []core.Options{
		0: {Hosts: []core.HostConfig{{Domain: "example.com"}}},
		1: {Store: st},
		2: {Store: st, Hosts: []core.HostConfig{{Domain: "bad domain"}}},
		3: {Store: st, Hosts: []core.HostConfig{{Domain: "a@b"}}},
		4: {Store: st, Hosts: []core.HostConfig{{Domain: "example.com", DefaultTTL: 48 * time.Hour, MaxTTL: 24 * time.Hour}}},
	}
	for i, opts := range tests {
		if _, err := core.NewService(opts); err == nil {
			t.Errorf("%d: NewService accepted %+v", i, opts)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	good, cred, err := e.svc.CreateKey(ctx, core.KeySpec{Host: "example.com", Name: "portal"})
	if err != nil {
		t.Fatal(err)
	}
	_, expiring, err := e.svc.CreateKey(ctx, core.KeySpec{Host: "example.com", ExpiresIn: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	deleted, deletedCred, err := e.svc.CreateKey(ctx, core.KeySpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteKey(ctx, cli, "example.com", deleted.ID); err != nil {
		t.Fatal(err)
	}
	id, secret, _ := strings.Cut(cred, "/")
	wrongSecret := id + "/" + flip(secret)
	unknownID := flip(id) + "/" + secret
	e.clock.Add(2 * time.Hour) // the expiring key is now expired

	k, err := e.svc.Authenticate(ctx, cred)
	if err != nil {
		t.Fatalf("Authenticate(good key): %v", err)
	}
	if k.ID != good.ID || k.Host != "example.com" || k.Name != "portal" {
		t.Errorf("Authenticate returned %+v, want the key %s", k, good.ID)
	}
	expiredID, expiredSecret, _ := strings.Cut(expiring, "/")
	tests := []struct {
		name, cred string
		want       error
	}{
		{"wrong secret", wrongSecret, core.ErrForbidden},
		{"unknown id", unknownID, core.ErrForbidden},
		{"deleted key", deletedCred, core.ErrForbidden},
		{"expired key", expiring, core.ErrExpired},
		{"expired key, wrong secret", expiredID + "/" + flip(expiredSecret), core.ErrForbidden},
		{"malformed: empty", "", core.ErrInvalid},
		{"malformed: no secret", id, core.ErrInvalid},
		{"malformed: short secret", id + "/" + secret[1:], core.ErrInvalid},
		{"malformed: bad alphabet", id + "/" + secret[1:] + "+", core.ErrInvalid},
		{"malformed: padding", id + "/" + secret[1:] + "=", core.ErrInvalid},
		{"malformed: bearer prefix", "Bearer " + cred, core.ErrInvalid},
	}
	for i, tc := range tests {
		k, err := e.svc.Authenticate(ctx, tc.cred)
		if !errors.Is(err, tc.want) {
			t.Errorf("%d %s: Authenticate = %+v, %v; want %v", i, tc.name, k, err, tc.want)
		}
		if err != nil && k.ID != "" {
			t.Errorf("%d %s: a failed Authenticate returned key %s", i, tc.name, k.ID)
		}
		// Only an ID no key has is unknown: the HTTP limiter budgets the others per key.
		unknown := tc.cred == unknownID || tc.cred == deletedCred
		if errors.Is(err, core.ErrUnknownKey) != unknown {
			t.Errorf("%d %s: Authenticate = %v; matches ErrUnknownKey: %v, want %v", i, tc.name, err, !unknown, unknown)
		}
	}
}

// flip changes the first character of a base64url string into another valid one.
func flip(s string) string {
	c := byte('A')
	if s[0] == 'A' {
		c = 'B'
	}
	return string(c) + s[1:]
}

// TestNoSecretInDatabase searches the database files' bytes for any key secret or
// invite token in clear, while the store is open (the write-ahead log holds the recent
// writes) and after it is closed.
func TestNoSecretInDatabase(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	var secrets []string
	for range 20 {
		k, cred, err := e.svc.CreateKey(ctx, core.KeySpec{Host: "example.com", Name: "k"})
		if err != nil {
			t.Fatal(err)
		}
		_, secret, _ := strings.Cut(cred, "/")
		secrets = append(secrets, secret, cred)
		if _, err := e.svc.Authenticate(ctx, cred); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			inv, err := e.svc.CreateKeyInvite(ctx, k, core.InviteSpec{Username: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, inv.Token)
		}
	}
	if err := e.svc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The needles: each secret as written, and its decoded bytes.
	var needles [][]byte
	for _, s := range secrets {
		needles = append(needles, []byte(s))
		if !strings.Contains(s, "/") {
			raw, err := base64.RawURLEncoding.DecodeString(s)
			if err != nil {
				t.Fatal(err)
			}
			needles = append(needles, raw)
		}
	}
	search := func(when string) {
		files, err := filepath.Glob(e.path + "*")
		if err != nil {
			t.Fatal(err)
		}
		searched := 0
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			searched += len(b)
			for _, n := range needles {
				if bytes.Contains(b, n) {
					t.Errorf("%s: %s contains a secret in clear", when, filepath.Base(f))
				}
			}
		}
		if searched == 0 {
			t.Fatalf("%s: no database bytes to search", when)
		}
	}
	if _, err := os.Stat(e.path + "-wal"); err != nil {
		t.Fatalf("no write-ahead log while the store is open: %v", err)
	}
	search("open")
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	search("closed")
}

func TestFixedUsername(t *testing.T) {
	ctx := t.Context()
	svc, _, _ := newService(t)
	inv, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Username: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Username != "alice" {
		t.Errorf("fixed username stored as %q, want the case-folded %q", inv.Username, "alice")
	}
	if got, want := svc.InviteURI(inv), "xmpp:alice@example.com?register;preauth="+inv.Token; got != want {
		t.Errorf("InviteURI = %q, want %q", got, want)
	}
	for i, name := range []string{"bob", "alice2", "alic", "mallory"} {
		if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: name}); !errors.Is(err, core.ErrForbidden) {
			t.Errorf("%d: Redeem as %q = %v, want ErrForbidden", i, name, err)
		}
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: "a b"}); !errors.Is(err, core.ErrInvalid) {
		t.Errorf("Redeem with a malformed name = %v, want ErrInvalid", err)
	}
	got, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: "ALICE"})
	if err != nil {
		t.Fatalf("Redeem as the fixed name: %v", err)
	}
	if got.Token != inv.Token || got.ID != inv.ID {
		t.Errorf("Redeem returned %+v", got)
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: "alice"}); !errors.Is(err, core.ErrUsedUp) || !errors.Is(err, core.ErrNotFound) {
		t.Errorf("second Redeem = %v, want ErrUsedUp (which is also ErrNotFound)", err)
	}
}

func TestRedeem(t *testing.T) {
	ctx := t.Context()
	svc, _, clk := newService(t)
	inv, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	contact, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Kind: core.KindContact, Inviter: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := svc.CheckInvite(ctx, "example.com", inv.Token); err != nil || got.ID != inv.ID {
		t.Fatalf("CheckInvite = %+v, %v", got, err)
	}
	tests := []struct {
		token, name string
		want        error
	}{
		0: {"", "alice", core.ErrNotFound},
		1: {"short", "alice", core.ErrNotFound},
		2: {flip(inv.Token), "alice", core.ErrNotFound},
		3: {contact.Token, "alice", core.ErrForbidden},
		4: {inv.Token, "", core.ErrInvalid},
	}
	for i, tc := range tests {
		if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: tc.token, Username: tc.name}); !errors.Is(err, tc.want) {
			t.Errorf("%d: Redeem(%q, %q) = %v, want %v", i, tc.token, tc.name, err, tc.want)
		}
	}
	clk.Add(time.Hour)
	if _, err := svc.CheckInvite(ctx, "example.com", inv.Token); !errors.Is(err, core.ErrExpired) {
		t.Errorf("CheckInvite of an expired invite = %v, want ErrExpired", err)
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: "alice"}); !errors.Is(err, core.ErrExpired) {
		t.Errorf("Redeem of an expired invite = %v, want ErrExpired", err)
	}
	if _, err := svc.CheckInvite(ctx, "example.com", "not a token"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("CheckInvite of a malformed token = %v, want ErrNotFound", err)
	}
	if n, purged, err := svc.Sweep(ctx); err != nil || n != 1 || purged != 0 {
		t.Errorf("Sweep = %d, %d, %v; want the one expired invite noted, none purged", n, purged, err)
	}
	if _, err := svc.CheckInvite(ctx, "example.com", inv.Token); !errors.Is(err, core.ErrExpired) {
		t.Errorf("CheckInvite after the sweep = %v, want ErrExpired (the record stays)", err)
	}
	if _, err := svc.CheckInvite(ctx, "example.com", contact.Token); err != nil {
		t.Errorf("the sweep touched a live invite: %v", err)
	}
	clk.Add(core.DefaultRetention + time.Second)
	// The contact invite has expired meanwhile: noted now, purged later.
	if n, purged, err := svc.Sweep(ctx); err != nil || n != 1 || purged != 1 {
		t.Errorf("Sweep after the retention = %d, %d, %v; want one noted, one purged", n, purged, err)
	}
	if _, err := svc.CheckInvite(ctx, "example.com", inv.Token); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("CheckInvite after the purge = %v, want ErrNotFound", err)
	}
}

func TestConcurrentRedeem(t *testing.T) {
	ctx := t.Context()
	svc, _, _ := newService(t)
	inv, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: "user" + strings.Repeat("x", i)})
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, core.ErrUsedUp):
			t.Errorf("redeemer %d: %v, want success or ErrUsedUp", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent redemptions succeeded, want exactly 1", wins, n)
	}
}

func TestInviteTTL(t *testing.T) {
	ctx := t.Context()
	const day = 24 * time.Hour
	e := newEnv(t,
		core.HostConfig{Domain: "example.com", DefaultTTL: 7 * day, MaxTTL: 10 * day},
		core.HostConfig{Domain: "example.org"}, // defaults: 7 days, at most 90
	)
	short, _, err := e.svc.CreateKey(ctx, core.KeySpec{Host: "example.com", MaxTTL: 2 * day})
	if err != nil {
		t.Fatal(err)
	}
	long, _, err := e.svc.CreateKey(ctx, core.KeySpec{Host: "example.com", MaxTTL: 20 * day})
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err := e.svc.CreateKey(ctx, core.KeySpec{Host: "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key     *core.Key // nil: CreateInvite on example.com
		ttl     time.Duration
		want    time.Duration
		wantErr bool
	}{
		0:  {key: nil, ttl: 0, want: 7 * day},
		1:  {key: nil, ttl: time.Hour, want: time.Hour},
		14: {key: nil, ttl: time.Nanosecond, wantErr: true},
		15: {key: nil, ttl: 59 * time.Second, wantErr: true},
		16: {key: nil, ttl: time.Minute, want: time.Minute},
		2:  {key: nil, ttl: 10 * day, want: 10 * day},
		3:  {key: nil, ttl: 10*day + time.Second, wantErr: true},
		4:  {key: nil, ttl: -time.Hour, wantErr: true},
		5:  {key: &short, ttl: 0, want: 2 * day}, // the default is cut to the key's bound
		6:  {key: &short, ttl: 2 * day, want: 2 * day},
		7:  {key: &short, ttl: 3 * day, wantErr: true},
		8:  {key: &long, ttl: 0, want: 7 * day},
		9:  {key: &long, ttl: 10 * day, want: 10 * day},
		10: {key: &long, ttl: 11 * day, wantErr: true}, // the host's bound wins
		11: {key: &plain, ttl: 0, want: 7 * day},
		12: {key: &plain, ttl: 90 * day, want: 90 * day},
		13: {key: &plain, ttl: 91 * day, wantErr: true},
	}
	for i, tc := range tests {
		var (
			inv core.Invite
			err error
		)
		if tc.key == nil {
			inv, err = e.svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", TTL: tc.ttl})
		} else {
			inv, err = e.svc.CreateKeyInvite(ctx, *tc.key, core.InviteSpec{TTL: tc.ttl})
		}
		if tc.wantErr {
			if !errors.Is(err, core.ErrInvalid) {
				t.Errorf("%d: ttl %v: %v, want ErrInvalid", i, tc.ttl, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%d: ttl %v: %v", i, tc.ttl, err)
			continue
		}
		if got := inv.ExpiresAt.Sub(inv.CreatedAt); got != tc.want {
			t.Errorf("%d: ttl %v gave a lifetime of %v, want %v", i, tc.ttl, got, tc.want)
		}
		stored, err := e.store.Invite(ctx, inv.ID)
		if err != nil || !stored.ExpiresAt.Equal(inv.ExpiresAt.Truncate(time.Microsecond)) {
			t.Errorf("%d: stored invite = %+v, %v", i, stored, err)
		}
	}
}

func TestCreateKeyInvite(t *testing.T) {
	ctx := t.Context()
	svc, _, _ := newService(t, core.HostConfig{Domain: "example.com", LandingPage: "https://example.com/i?{token}"})
	k, _, err := svc.CreateKey(ctx, core.KeySpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := svc.CreateKeyInvite(ctx, k, core.InviteSpec{Host: "ignored.example", Actor: core.Actor{Kind: core.ActorCLI}, Kind: ""})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Host != "example.com" || inv.CreatedBy != "api/token/"+k.ID || inv.Kind != core.KindAccount {
		t.Errorf("key invite = %+v; want host example.com, source api/token/%s, account kind", inv, k.ID)
	}
	if got, want := svc.InviteLandingPage(inv), "https://example.com/i?"+inv.Token; got != want {
		t.Errorf("InviteLandingPage = %q, want %q", got, want)
	}
	if _, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "unknown.example"}); !errors.Is(err, core.ErrUnknownHost) {
		t.Errorf("CreateInvite on an unknown host = %v, want ErrUnknownHost", err)
	}
	if _, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Kind: "bogus"}); !errors.Is(err, core.ErrInvalid) {
		t.Errorf("CreateInvite of an unknown kind = %v, want ErrInvalid", err)
	}
	if _, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Kind: core.KindContact}); !errors.Is(err, core.ErrInvalid) {
		t.Errorf("contact invite without inviter = %v, want ErrInvalid", err)
	}
}

// TestRefusedRequestKeepsRateBudget checks that an invite refused for its parameters
// does not spend the key's rate: only invites that are made count.
func TestRefusedRequestKeepsRateBudget(t *testing.T) {
	ctx := t.Context()
	svc, _, _ := newService(t, core.HostConfig{Domain: "example.com"})
	k, _, err := svc.CreateKey(ctx, core.KeySpec{Host: "example.com", MaxTTL: time.Hour, Rate: core.Rate{N: 2, Period: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	for i, spec := range []core.InviteSpec{
		{TTL: 2 * time.Hour},
		{Username: "not a name@"},
		{TTL: -time.Second},
	} {
		if _, err := svc.CreateKeyInvite(ctx, k, spec); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("%d: %v, want ErrInvalid", i, err)
		}
	}
	for i := range 2 {
		if _, err := svc.CreateKeyInvite(ctx, k, core.InviteSpec{}); err != nil {
			t.Fatalf("invite %d within the rate: %v", i, err)
		}
	}
	var rl *core.RateLimitError
	if _, err := svc.CreateKeyInvite(ctx, k, core.InviteSpec{}); !errors.As(err, &rl) || !errors.Is(err, core.ErrRateLimited) || rl.RetryAfter <= 0 {
		t.Fatalf("third invite = %v, want a RateLimitError", err)
	}
}

func TestKeysIncludeUnflushedUses(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	k, cred, err := e.svc.CreateKey(ctx, core.KeySpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := e.svc.CreateKey(ctx, core.KeySpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.clock.Add(time.Minute)
		if _, err := e.svc.Authenticate(ctx, cred); err != nil {
			t.Fatal(err)
		}
	}
	last := e.clock.Now()
	check := func(when string, uses int64, lastUsed time.Time) {
		t.Helper()
		keys, err := e.svc.Keys(ctx, "example.com")
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 || keys[0].ID != k.ID || keys[1].ID != other.ID {
			t.Fatalf("%s: Keys = %+v, want both keys, oldest first", when, keys)
		}
		if keys[0].Uses != uses || !keys[0].LastUsed.Equal(lastUsed) {
			t.Errorf("%s: uses %d, last used %v; want %d, %v", when, keys[0].Uses, keys[0].LastUsed, uses, lastUsed)
		}
		if keys[1].Uses != 0 || !keys[1].LastUsed.IsZero() {
			t.Errorf("%s: unused key shows uses %d, last used %v", when, keys[1].Uses, keys[1].LastUsed)
		}
	}
	check("before flush", 3, last)
	if stored, err := e.store.Key(ctx, k.ID); err != nil || stored.Uses != 0 {
		t.Errorf("store has uses %d, %v before any flush; bookkeeping must stay off the request path", stored.Uses, err)
	}
	if err := e.svc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check("after flush", 3, last) // counted once, not twice
	if err := e.svc.Flush(ctx); err != nil {
		t.Fatalf("empty Flush: %v", err)
	}
	if _, err := e.svc.Authenticate(ctx, cred); err != nil {
		t.Fatal(err)
	}
	check("one more use", 4, last)
}

func TestFlushPersistsUses(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	k, cred, err := e.svc.CreateKey(ctx, core.KeySpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := e.svc.Authenticate(ctx, cred); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.svc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, e.path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.Key(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Uses != 5 || !got.LastUsed.Equal(e.clock.Now()) {
		t.Errorf("after reopening: uses %d, last used %v; want 5, %v", got.Uses, got.LastUsed, e.clock.Now())
	}
}

// TestRunFlushesOnStop checks that Run writes pending bookkeeping when its context ends.
func TestRunFlushesOnStop(t *testing.T) {
	e := newEnv(t)
	k, cred, err := e.svc.CreateKey(t.Context(), core.KeySpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		e.svc.Run(ctx)
		close(done)
	}()
	if _, err := e.svc.Authenticate(t.Context(), cred); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	got, err := e.store.Key(t.Context(), k.ID)
	if err != nil || got.Uses != 1 {
		t.Errorf("after Run stopped: uses %d, %v; want 1", got.Uses, err)
	}
}

func TestDeleteKey(t *testing.T) {
	ctx := t.Context()
	svc, _, _ := newService(t, core.HostConfig{Domain: "example.com"}, core.HostConfig{Domain: "example.org"})
	k, cred, err := svc.CreateKey(ctx, core.KeySpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, cred); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host, id string
		want     error
	}{
		0: {"example.org", k.ID, core.ErrNotFound},
		1: {"unknown.example", k.ID, core.ErrUnknownHost},
		2: {"example.com", "malformed", core.ErrNotFound},
		3: {"example.com", flip(k.ID), core.ErrNotFound},
		4: {"example.com", k.ID, nil},
		5: {"example.com", k.ID, core.ErrNotFound},
	}
	for i, tc := range tests {
		if err := svc.DeleteKey(ctx, cli, tc.host, tc.id); !errors.Is(err, tc.want) {
			t.Errorf("%d: DeleteKey(%q, %q) = %v, want %v", i, tc.host, tc.id, err, tc.want)
		}
	}
	if _, err := svc.Authenticate(ctx, cred); !errors.Is(err, core.ErrForbidden) {
		t.Errorf("Authenticate with a deleted key = %v, want ErrForbidden", err)
	}
	if keys, err := svc.Keys(ctx, "example.com"); err != nil || len(keys) != 0 {
		t.Errorf("Keys after delete = %+v, %v", keys, err)
	}
	if err := svc.Flush(ctx); err != nil {
		t.Errorf("Flush after deleting a used key: %v", err)
	}
}

func TestCreateKeyRejects(t *testing.T) {
	ctx := t.Context()
	svc, _, _ := newService(t)
	tests := []struct {
		spec core.KeySpec
		want error
	}{
		0: {core.KeySpec{Host: "unknown.example"}, core.ErrUnknownHost},
		1: {core.KeySpec{Host: "example.com", Name: strings.Repeat("x", core.MaxKeyNameLen+1)}, core.ErrInvalid},
		2: {core.KeySpec{Host: "example.com", Name: "tab\there"}, core.ErrInvalid},
		3: {core.KeySpec{Host: "example.com", ExpiresIn: -time.Hour}, core.ErrInvalid},
		6: {core.KeySpec{Host: "example.com", ExpiresIn: time.Nanosecond}, core.ErrInvalid},
		7: {core.KeySpec{Host: "example.com", MaxTTL: time.Second}, core.ErrInvalid},
		8: {core.KeySpec{Host: "example.com", Name: "evil\u202egnp.exe"}, core.ErrInvalid},
		9: {core.KeySpec{Host: "example.com", Name: "line\u2028break"}, core.ErrInvalid},
		4: {core.KeySpec{Host: "example.com", MaxTTL: core.MaxDuration + 1}, core.ErrInvalid},
		5: {core.KeySpec{Host: "example.com", Rate: core.Rate{N: -1, Period: time.Minute}}, core.ErrInvalid},
	}
	for i, tc := range tests {
		if _, cred, err := svc.CreateKey(ctx, tc.spec); !errors.Is(err, tc.want) || cred != "" {
			t.Errorf("%d: CreateKey(%+v) = %q, %v; want %v", i, tc.spec, cred, err, tc.want)
		}
	}
	k, _, err := svc.CreateKey(ctx, core.KeySpec{Host: "EXAMPLE.com", Name: strings.Repeat("x", core.MaxKeyNameLen),
		ExpiresIn: time.Hour, MaxTTL: 2 * time.Hour, Rate: core.Rate{N: 5, Period: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if k.Host != "example.com" || k.ExpiresAt.Sub(k.CreatedAt) != time.Hour || k.MaxTTL != 2*time.Hour {
		t.Errorf("CreateKey = %+v", k)
	}
}

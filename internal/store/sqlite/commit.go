package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ncruces/go-sqlite3"

	"github.com/xmpp-invites/invites/internal/core"
)

// errClosed is returned for a write submitted after Close.
var errClosed = errors.New("the store is closed")

// committer runs every write of the store in shared transactions (group commit), so
// that concurrent writers share one commit, and with synchronous=FULL one fsync.
// One goroutine owns the loop: it takes a request, drains whatever else is queued at
// that moment (up to max), runs them all in one transaction, commits, and only then
// answers each request. It never waits for more requests to arrive, so an idle store
// commits a lone request at once.
//
// A request is either an invite insert (the hot path: one statement, and the outbox rows
// of its events) or an operation, a function run inside the shared transaction under a
// savepoint of its own, so that an operation that fails (or refuses, as a redemption
// of a used-up invite does) undoes only its own writes.
type committer struct {
	db   *sql.DB
	ins  *sql.Stmt // insertInvite, prepared once on the single writer connection
	out  *sql.Stmt // insertOutbox, likewise
	max  int
	log  *slog.Logger
	reqs chan *request
	quit chan struct{} // closed by close: finish what is queued, then stop
	done chan struct{} // closed when the loop has stopped

	// base is the context of the shared transactions: no single caller's context may
	// cancel a commit that others wait on.
	base      context.Context
	closeOnce sync.Once

	// commits and rows count the transactions the loop committed and the requests in
	// them, so that tests and benchmarks can see the grouping.
	commits, rows atomic.Int64
}

// request is one write waiting to be committed.
type request struct {
	ctx    context.Context
	inv    *core.Invite // an invite to insert, or nil for an operation
	events []core.Event // outbox rows of the insert
	op     func(ctx context.Context, tx *sql.Tx) error
	res    chan error   // buffered: the loop never blocks answering
	state  atomic.Int32 // requestQueued, then requestTaken or requestAbandoned
}

const (
	requestQueued int32 = iota
	requestTaken
	requestAbandoned
)

func newCommitter(db *sql.DB, ins, out *sql.Stmt, maxBatch int, log *slog.Logger) *committer {
	c := &committer{
		db:   db,
		ins:  ins,
		out:  out,
		max:  maxBatch,
		log:  log,
		reqs: make(chan *request, maxBatch),
		quit: make(chan struct{}),
		done: make(chan struct{}),
		base: context.Background(),
	}
	go c.loop()
	return c
}

// insert queues an invite with the outbox rows of its events and waits for the commit
// that holds it.
func (c *committer) insert(ctx context.Context, inv core.Invite, events []core.Event) error {
	return c.submit(ctx, &request{ctx: ctx, inv: &inv, events: events})
}

// do queues an operation and waits for the commit that holds it; it returns the
// operation's error, or the commit's.
// The operation may run more than once (alone, after a shared transaction failed);
// only its last run counts.
func (c *committer) do(ctx context.Context, op func(ctx context.Context, tx *sql.Tx) error) error {
	return c.submit(ctx, &request{ctx: ctx, op: op})
}

// submit queues r and waits for the commit that holds it, or for ctx to end.
func (c *committer) submit(ctx context.Context, r *request) error {
	// A caller that has already given up starts no write: the select below would
	// otherwise pick the queue half the time.
	if err := ctx.Err(); err != nil {
		return err
	}
	r.res = make(chan error, 1)
	select {
	case <-c.quit:
		return errClosed
	default:
	}
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.quit:
		return errClosed
	}
	select {
	case err := <-r.res:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(requestQueued, requestAbandoned) {
			return ctx.Err() // never written
		}
		// The loop has taken it: its outcome is on the way, and the caller must learn
		// it (a redemption that committed has used the invite).
		return <-r.res
	case <-c.done:
		// The loop answers everything it took before it stops; a request still
		// queued after its last drain was never written.
		select {
		case err := <-r.res:
			return err
		default:
			return errClosed
		}
	}
}

// close makes the loop commit what is queued and stop, and waits for it.
func (c *committer) close() {
	c.closeOnce.Do(func() { close(c.quit) })
	<-c.done
}

func (c *committer) loop() {
	defer close(c.done)
	batch := make([]*request, 0, c.max)
	for {
		select {
		case r := <-c.reqs:
			// Let the callers that are runnable now (typically those just answered)
			// queue their next request before the batch closes. With nothing else
			// runnable this returns at once: an idle store adds no delay.
			runtime.Gosched()
			batch = c.drain(append(batch[:0], r))
			c.commit(batch)
		case <-c.quit:
			for {
				batch = c.drain(batch[:0])
				if len(batch) == 0 {
					return
				}
				c.commit(batch)
			}
		}
	}
}

// drain appends the requests queued right now, up to c.max in all.
func (c *committer) drain(batch []*request) []*request {
	for len(batch) < c.max {
		select {
		case r := <-c.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commit writes a batch in one transaction and answers each request.
// A taken invite ID fails only its own insert (the insert then inserts nothing), and a
// failing operation only itself (its savepoint is rolled back); any other failure but a
// lock timeout rolls back and retries request by request, each in its own transaction
// under its caller's context, so that one bad request cannot fail the others.
func (c *committer) commit(batch []*request) {
	live := batch[:0:0]
	for _, r := range batch {
		if !r.state.CompareAndSwap(requestQueued, requestTaken) {
			continue // its caller has gone, knowing it was not written
		}
		if err := r.ctx.Err(); err != nil {
			r.res <- err // its caller gave up while it waited: not written
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 {
		r := live[0]
		err := c.runAlone(r)
		c.commits.Add(1)
		c.rows.Add(1)
		r.res <- err
		return
	}
	errs, err := c.runBatch(live)
	if errors.Is(err, sqlite3.BUSY) {
		// Another process held the lock past the busy timeout: each request alone
		// would wait as long again.
		for _, r := range live {
			r.res <- err
		}
		return
	}
	if err != nil {
		c.log.Warn("group commit failed, retrying one by one", "requests", len(live), "err", err)
		for _, r := range live {
			r.res <- c.runAlone(r)
		}
		return
	}
	c.commits.Add(1)
	c.rows.Add(int64(len(live)))
	for i, r := range live {
		r.res <- errs[i]
	}
}

// runBatch runs every request in one transaction.
// It returns each request's own error, or a failure of the whole.
func (c *committer) runBatch(batch []*request) (errs []error, err error) {
	ctx := c.base
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	errs = make([]error, len(batch))
	for i, r := range batch {
		if r.inv != nil {
			if errs[i], err = c.insertIn(ctx, tx, r); err != nil {
				return nil, err
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT op`); err != nil {
			return nil, err
		}
		errs[i] = r.op(ctx, tx)
		if errs[i] != nil {
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO op`); err != nil {
				return nil, err
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE op`); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return errs, nil
}

// insertIn inserts a request's invite and its outbox rows in tx. It returns the
// request's own outcome (nil, or errTaken when the ID exists, writing nothing), or a
// failure of the transaction.
func (c *committer) insertIn(ctx context.Context, tx *sql.Tx, r *request) (own, err error) {
	args, err := inviteArgs(*r.inv)
	if err != nil {
		return nil, err
	}
	res, err := tx.StmtContext(ctx, c.ins).ExecContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if n == 0 {
		return errTaken, nil
	}
	if err := writeOutbox(ctx, tx.StmtContext(ctx, c.out), r.events); err != nil {
		return nil, err
	}
	return nil, nil
}

// runAlone runs one request in its own transaction.
// Like a shared transaction it runs under the committer's context, not the caller's:
// once a request is taken its caller waits for the outcome, which is then never in
// doubt (the busy timeout bounds the wait).
func (c *committer) runAlone(r *request) error {
	ctx := c.base
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	defer tx.Rollback()
	if r.inv != nil {
		own, err := c.insertIn(ctx, tx, r)
		switch {
		case err != nil:
			return mapErr(err)
		case own != nil:
			return own
		}
	} else if err := r.op(ctx, tx); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}

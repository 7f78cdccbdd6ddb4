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
var errClosed = errors.New("sqlite: store closed")

// committer groups concurrent invite inserts into shared transactions.
// One goroutine owns the loop: it takes a request, drains whatever else is queued at
// that moment (up to max), inserts them all in one transaction, commits, and only then
// answers each request. It never waits for more requests to arrive, so an idle store
// commits a lone request at once.
type committer struct {
	db   *sql.DB
	ins  *sql.Stmt // insertInvite, prepared once on the single writer connection
	max  int
	log  *slog.Logger
	reqs chan *request
	quit chan struct{} // closed by close: finish what is queued, then stop
	done chan struct{} // closed when the loop has stopped

	// base is the context of the shared transactions: no single caller's context may
	// cancel a commit that others wait on.
	base      context.Context
	closeOnce sync.Once

	// commits and rows count the transactions the loop committed and the invites in
	// them, so that tests can see the grouping.
	commits, rows atomic.Int64
}

// request is one invite waiting to be committed.
type request struct {
	ctx context.Context
	inv core.Invite
	res chan error // buffered: the loop never blocks answering
}

func newCommitter(db *sql.DB, ins *sql.Stmt, maxBatch int, log *slog.Logger) *committer {
	c := &committer{
		db:   db,
		ins:  ins,
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

// submit queues inv and waits for the commit that holds it, or for ctx to end.
func (c *committer) submit(ctx context.Context, inv core.Invite) error {
	r := &request{ctx: ctx, inv: inv, res: make(chan error, 1)}
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
		return ctx.Err()
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
// A taken token hash fails only its own row (the insert then inserts nothing);
// any other failure but a lock timeout rolls back and retries row by row, each in its
// own transaction under its caller's context, so that one bad row cannot fail the
// others.
func (c *committer) commit(batch []*request) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.res <- err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 {
		r := live[0]
		err := c.insertOne(r.ctx, r.inv)
		c.commits.Add(1)
		c.rows.Add(1)
		r.res <- err
		return
	}
	errs, err := c.insertBatch(live)
	if errors.Is(err, sqlite3.BUSY) {
		// Another process held the lock past the busy timeout: each row alone would
		// wait as long again.
		for _, r := range live {
			r.res <- err
		}
		return
	}
	if err != nil {
		c.log.Warn("group commit failed, retrying row by row", "rows", len(live), "err", err)
		for _, r := range live {
			r.res <- c.insertOne(r.ctx, r.inv)
		}
		return
	}
	c.commits.Add(1)
	c.rows.Add(int64(len(live)))
	for i, r := range live {
		r.res <- errs[i]
	}
}

// insertBatch inserts every request's invite in one transaction.
// It returns each row's own error (nil or a conflict), or a failure of the whole.
func (c *committer) insertBatch(batch []*request) (errs []error, err error) {
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
	stmt := tx.StmtContext(ctx, c.ins)
	errs = make([]error, len(batch))
	for i, r := range batch {
		res, err := stmt.ExecContext(ctx, inviteArgs(r.inv)...)
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if n == 0 {
			errs[i] = errTaken
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return errs, nil
}

// insertOne inserts one invite in its own transaction.
func (c *committer) insertOne(ctx context.Context, inv core.Invite) error {
	res, err := c.ins.ExecContext(ctx, inviteArgs(inv)...)
	if err != nil {
		return mapErr(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return errTaken
	}
	return nil
}

package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
)

// checkpointer copies the write-ahead log back into the database file in the
// background, so that no commit pays for it.
// SQLite would otherwise run the checkpoint inside whichever commit crossed the
// threshold, fsyncs included; on a large database it writes back many scattered pages.
// A PASSIVE checkpoint never blocks the writer or readers.
//
// A checkpoint that runs beside a busy writer never catches up with it, and the log
// restarts from its beginning only when a write finds it fully copied; so after each
// background pass a short second pass runs on the writer's own connection, between two
// transactions, copying the few frames written meanwhile.
type checkpointer struct {
	db   *sql.DB // its own connection
	w    *sql.DB // the writer's
	log  *slog.Logger
	wake chan struct{} // buffered 1: kicks coalesce
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

func newCheckpointer(db, w *sql.DB, log *slog.Logger) *checkpointer {
	c := &checkpointer{
		db:   db,
		w:    w,
		log:  log,
		wake: make(chan struct{}, 1),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	go c.loop()
	return c
}

// kick asks for a checkpoint; it never blocks, and kicks while one runs coalesce.
// Before the checkpointer exists (while Open migrates) it does nothing.
func (c *checkpointer) kick() {
	if c == nil {
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case <-c.quit:
			return
		case <-c.wake:
			for _, db := range []*sql.DB{c.db, c.w} {
				if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil && ctx.Err() == nil {
					c.log.Warn("sqlite checkpoint failed", "err", err)
				}
			}
		}
	}
}

// close stops the loop, interrupting a checkpoint in progress, and closes its pool.
func (c *checkpointer) close() error {
	c.once.Do(func() { close(c.quit) })
	<-c.done
	return c.db.Close()
}

package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/xmpp-invites/invites/internal/core"
)

// classify wraps *err with core.ErrUnavailable when it says the database cannot be
// reached right now, so that the first failed call while the server is away is
// answered "try again" rather than as an internal error. Every method of core.Store
// defers it on its error.
func classify(err *error) {
	if *err != nil && unavailable(*err) && !errors.Is(*err, core.ErrUnavailable) {
		*err = fmt.Errorf("%w: %w", core.ErrUnavailable, *err)
	}
}

// unavailable reports whether err is a failure to reach the database: a connection
// that cannot be made or was lost (refused, reset, closed, timed out), the server
// shutting down or starting up, too many connections, or the store's pool closed.
// Errors of a request itself (a constraint, a syntax error) and a caller that gave up
// (context.Canceled) are not.
func unavailable(err error) bool {
	var (
		ce *pgconn.ConnectError
		pe *pgconn.PgError
		ne net.Error
	)
	switch {
	case errors.As(err, &pe):
		return strings.HasPrefix(pe.Code, "08") || // connection exception
			strings.HasPrefix(pe.Code, "57P") || // admin or crash shutdown, cannot connect now
			pe.Code == "53300" // too many connections
	case errors.As(err, &ce), errors.As(err, &ne):
		return true
	}
	return errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, puddle.ErrClosedPool) || errors.Is(err, errClosed) || pgconn.Timeout(err)
}

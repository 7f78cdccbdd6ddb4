package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/outbox"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/internal/webhook"
)

// webhooksUsage is the usage of the webhooks command, printed after the keys'.
const webhooksUsage = `  invites-plugin [FLAGS] webhooks log HOST [--limit N] [--event ID] [--sink SINK]
      Print the latest delivery attempts of HOST's events, newest first (tab-separated:
      time, event ID, message type, endpoint, attempt, status (HTTP, or the mail
      relay's reply code), milliseconds, "ok" or the error, sink). SINK is webhook,
      host (account states and messages), email or funnel; --limit bounds them
      (default 50, at most 1000).
  invites-plugin [FLAGS] webhooks pending
      Print how many events wait for delivery, since when, and how many were given up.
  invites-plugin webhooks secret
      Print a new webhook secret (whsec_…) for a [[webhook]] entry.
`

// runWebhooks runs "webhooks VERB ...".
func runWebhooks(ctx context.Context, g globals, args []string, opts map[string]string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("webhooks: want log, pending or secret")
	}
	verb, args := args[0], args[1:]
	switch verb {
	case "secret":
		if len(args) != 0 || len(opts) != 0 {
			return usagef("webhooks secret takes no arguments")
		}
		s, err := webhook.NewSecret()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, s)
		return nil
	case "log":
		if len(args) != 1 {
			return usagef("webhooks log: want HOST")
		}
	case "pending":
		if len(args) != 0 || len(opts) != 0 {
			return usagef("webhooks pending takes no arguments")
		}
	default:
		return usagef("webhooks: unknown verb %q", verb)
	}
	q := outbox.LogQuery{EventID: opts["event"], Sink: opts["sink"]}
	if v, ok := opts["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > outbox.MaxLogLimit {
			return usagef("--limit: want a number from 1 to %d", outbox.MaxLogLimit)
		}
		q.Limit = n
	}
	ob, closeFn, err := openOutbox(ctx, g)
	if err != nil {
		return err
	}
	defer closeFn()
	if verb == "pending" {
		b, err := ob.OutboxBacklog(ctx)
		if err != nil {
			return err
		}
		since := "-"
		if !b.Oldest.IsZero() {
			since = stamp(b.Oldest, "-")
		}
		fmt.Fprintf(stdout, "pending\t%d\nsince\t%s\ngiven up\t%d\n", b.Pending, since, b.GivenUp)
		return nil
	}
	host, err := core.NormalizeDomain(args[0])
	if err != nil {
		return fmt.Errorf("%q is not a host name", args[0])
	}
	q.Host = host
	log, err := ob.DeliveryLog(ctx, q)
	if err != nil {
		return err
	}
	for _, a := range log {
		result := "ok"
		if !a.OK() {
			result = a.Error
		}
		status := "-"
		if a.Status != 0 {
			status = strconv.Itoa(a.Status)
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\n", a.At.UTC().Format(time.RFC3339), a.EventID, a.Type,
			a.Endpoint, a.Attempt, status, a.Duration.Milliseconds(), result, a.Sink)
	}
	return nil
}

// openOutbox opens the configured store for reading its outbox. A SQLite store that
// does not exist is an error, not a new empty file: the data directory or the store
// address is wrong.
func openOutbox(ctx context.Context, g globals) (outbox.Store, func(), error) {
	cfg, err := config.Load(g.configFile)
	if err != nil {
		return nil, nil, err
	}
	if g.dataDir != "" {
		cfg.DataDir = g.dataDir
	}
	if g.storeDSN != "" {
		cfg.Store = g.storeDSN
	}
	kind, target, err := store.Parse(cfg.Address())
	if err != nil {
		return nil, nil, err
	}
	if kind == store.KindSQLite {
		if _, err := os.Stat(target); errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("there is no store at %s: give the server's data directory with -data, or its store with -store", target)
		}
	}
	st, err := store.OpenWith(ctx, cfg.Address(), store.Options{Logger: slog.New(slog.DiscardHandler), Durability: cfg.Durability})
	if err != nil {
		return nil, nil, err
	}
	return st, func() { _ = st.Close() }, nil
}

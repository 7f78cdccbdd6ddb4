package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// RecordHosts implements core.HostRecorder, in one transaction.
func (s *Store) RecordHosts(ctx context.Context, domains []string) error {
	if len(domains) == 0 {
		return nil
	}
	now := micros(time.Now())
	err := s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, d := range domains {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO hosts (domain, recorded_at) VALUES (?, ?) ON CONFLICT DO NOTHING`, d, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording the served domains: %w", err)
	}
	return nil
}

// RecordedHosts implements core.HostRecorder.
func (s *Store) RecordedHosts(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT domain FROM hosts ORDER BY domain`)
	if err != nil {
		return nil, fmt.Errorf("reading the served domains: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("reading the served domains: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the served domains: %w", err)
	}
	return out, nil
}

var _ core.HostRecorder = (*Store)(nil)

package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmpp-invites/invites/internal/core"
)

// RecordHosts implements core.HostRecorder.
func (s *Store) RecordHosts(ctx context.Context, domains []string) error {
	if len(domains) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO `+s.q.schema+`.hosts (domain, recorded_at)
		SELECT d, $2 FROM unnest($1::text[]) AS d ON CONFLICT DO NOTHING`, domains, nanos(time.Now()))
	if err != nil {
		return fmt.Errorf("recording the served domains: %w", err)
	}
	return nil
}

// RecordedHosts implements core.HostRecorder.
func (s *Store) RecordedHosts(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT domain FROM `+s.q.schema+`.hosts ORDER BY domain`)
	if err != nil {
		return nil, fmt.Errorf("reading the served domains: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("reading the served domains: %w", err)
	}
	return out, nil
}

var _ core.HostRecorder = (*Store)(nil)

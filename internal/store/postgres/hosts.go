package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmpp-invites/invites/internal/core"
)

// RecordHosts implements core.HostRecorder.
func (s *Store) RecordHosts(ctx context.Context, domains []string, baseURL string) (rerr error) {
	defer classify(&rerr)
	if len(domains) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO `+s.q.schema+`.hosts AS h (domain, recorded_at, base_url)
		SELECT d, $2, $3 FROM unnest($1::text[]) AS d
		ON CONFLICT (domain) DO UPDATE SET recorded_at = $2,
			base_url = CASE WHEN $3 = '' THEN h.base_url ELSE $3 END`, domains, nanos(time.Now()), baseURL)
	if err != nil {
		return fmt.Errorf("recording the served domains: %w", err)
	}
	return nil
}

// RecordedHosts implements core.HostRecorder.
func (s *Store) RecordedHosts(ctx context.Context) (_ []core.RecordedHost, rerr error) {
	defer classify(&rerr)
	rows, err := s.pool.Query(ctx, `SELECT domain, base_url FROM `+s.q.schema+`.hosts ORDER BY domain`)
	if err != nil {
		return nil, fmt.Errorf("reading the served domains: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[core.RecordedHost])
	if err != nil {
		return nil, fmt.Errorf("reading the served domains: %w", err)
	}
	return out, nil
}

var _ core.HostRecorder = (*Store)(nil)

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// RecordHosts implements core.HostRecorder, in one transaction.
func (s *Store) RecordHosts(ctx context.Context, domains []string, baseURL string) (rerr error) {
	defer s.classify(&rerr)
	if len(domains) == 0 {
		return nil
	}
	now := micros(time.Now())
	err := s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, d := range domains {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO hosts (domain, recorded_at, base_url) VALUES (?1, ?2, ?3)
				ON CONFLICT (domain) DO UPDATE SET recorded_at = ?2,
					base_url = CASE WHEN ?3 = '' THEN base_url ELSE ?3 END`, d, now, baseURL); err != nil {
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
func (s *Store) RecordedHosts(ctx context.Context) (_ []core.RecordedHost, rerr error) {
	defer s.classify(&rerr)
	rows, err := s.r.QueryContext(ctx, `SELECT domain, base_url FROM hosts ORDER BY domain`)
	if err != nil {
		return nil, fmt.Errorf("reading the served domains: %w", err)
	}
	defer rows.Close()
	var out []core.RecordedHost
	for rows.Next() {
		var h core.RecordedHost
		if err := rows.Scan(&h.Domain, &h.BaseURL); err != nil {
			return nil, fmt.Errorf("reading the served domains: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the served domains: %w", err)
	}
	return out, nil
}

var _ core.HostRecorder = (*Store)(nil)

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// RecordHosts implements core.Store, in one transaction.
func (s *Store) RecordHosts(ctx context.Context, hosts []core.RecordedHost) (rerr error) {
	defer s.classify(&rerr)
	if len(hosts) == 0 {
		return nil
	}
	now := micros(time.Now())
	err := s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, h := range hosts {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO hosts (domain, recorded_at, base_url, landing_page, default_ttl, max_ttl, webhooks, mail, account_states)
				VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
				ON CONFLICT (domain) DO UPDATE SET recorded_at = ?2,
					base_url = CASE WHEN ?3 = '' THEN base_url ELSE ?3 END,
					landing_page = ?4, default_ttl = ?5, max_ttl = ?6, webhooks = ?7, mail = ?8, account_states = ?9`,
				h.Domain, now, h.BaseURL, h.LandingPage, int64(h.DefaultTTL), int64(h.MaxTTL), h.Webhooks, h.Mail, h.AccountStates); err != nil {
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

// RecordedHosts implements core.Store.
func (s *Store) RecordedHosts(ctx context.Context) (_ []core.RecordedHost, rerr error) {
	defer s.classify(&rerr)
	rows, err := s.r.QueryContext(ctx, `SELECT domain, base_url, landing_page, default_ttl, max_ttl, webhooks, mail, account_states
		FROM hosts ORDER BY domain`)
	if err != nil {
		return nil, fmt.Errorf("reading the served domains: %w", err)
	}
	defer rows.Close()
	var out []core.RecordedHost
	for rows.Next() {
		var (
			h        core.RecordedHost
			def, max int64
		)
		if err := rows.Scan(&h.Domain, &h.BaseURL, &h.LandingPage, &def, &max, &h.Webhooks, &h.Mail, &h.AccountStates); err != nil {
			return nil, fmt.Errorf("reading the served domains: %w", err)
		}
		h.DefaultTTL, h.MaxTTL = time.Duration(def), time.Duration(max)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the served domains: %w", err)
	}
	return out, nil
}

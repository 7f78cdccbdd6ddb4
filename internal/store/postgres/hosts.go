package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmpp-invites/invites/internal/core"
)

// RecordHosts implements core.Store, in one statement.
func (s *Store) RecordHosts(ctx context.Context, hosts []core.RecordedHost) (rerr error) {
	defer classify(&rerr)
	if len(hosts) == 0 {
		return nil
	}
	n := len(hosts)
	var (
		domains, urls, pages = make([]string, n), make([]string, n), make([]string, n)
		defs, maxs           = make([]int64, n), make([]int64, n)
		hooks, mails, states = make([]bool, n), make([]bool, n), make([]bool, n)
	)
	for i, h := range hosts {
		domains[i], urls[i], pages[i] = h.Domain, h.BaseURL, h.LandingPage
		defs[i], maxs[i], hooks[i], mails[i], states[i] = int64(h.DefaultTTL), int64(h.MaxTTL), h.Webhooks, h.Mail, h.AccountStates
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO `+s.q.schema+`.hosts AS h
			(domain, recorded_at, base_url, landing_page, default_ttl, max_ttl, webhooks, mail, account_states)
		SELECT r.d, $2, r.u, r.p, r.def, r.max, r.w, r.m, r.s
		FROM unnest($1::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::boolean[], $8::boolean[], $9::boolean[])
			AS r(d, u, p, def, max, w, m, s)
		ON CONFLICT (domain) DO UPDATE SET recorded_at = $2,
			base_url = CASE WHEN excluded.base_url = '' THEN h.base_url ELSE excluded.base_url END,
			landing_page = excluded.landing_page, default_ttl = excluded.default_ttl,
			max_ttl = excluded.max_ttl, webhooks = excluded.webhooks, mail = excluded.mail,
			account_states = excluded.account_states`,
		domains, nanos(time.Now()), urls, pages, defs, maxs, hooks, mails, states)
	if err != nil {
		return fmt.Errorf("recording the served domains: %w", err)
	}
	return nil
}

// RecordedHosts implements core.Store.
func (s *Store) RecordedHosts(ctx context.Context) (_ []core.RecordedHost, rerr error) {
	defer classify(&rerr)
	rows, err := s.pool.Query(ctx, `SELECT domain, base_url, landing_page, default_ttl, max_ttl, webhooks, mail, account_states
		FROM `+s.q.schema+`.hosts ORDER BY domain`)
	if err != nil {
		return nil, fmt.Errorf("reading the served domains: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (core.RecordedHost, error) {
		var (
			h        core.RecordedHost
			def, max int64
		)
		err := r.Scan(&h.Domain, &h.BaseURL, &h.LandingPage, &def, &max, &h.Webhooks, &h.Mail, &h.AccountStates)
		h.DefaultTTL, h.MaxTTL = time.Duration(def), time.Duration(max)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the served domains: %w", err)
	}
	return out, nil
}

package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/outbox"
)

// This file is what an invite reports back (issue 25): the columns of migration 8,
// which the hot paths never read.

// hasDetails reports whether a new invite has details to write beside its row.
func hasDetails(inv core.Invite) bool {
	return inv.Email != "" || inv.Welcome != "" || inv.Mail.Status != ""
}

// writeDetails writes a new invite's email, mail and welcome message in tx.
func (s *Store) writeDetails(ctx context.Context, tx pgx.Tx, inv core.Invite) error {
	if !hasDetails(inv) {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE `+s.q.schema+`.invites SET email = $2, welcome = $3, email_status = $4,
		email_error = $5, email_at = $6, email_event = $7 WHERE id = $1`,
		inv.ID, inv.Email, inv.Welcome, string(inv.Mail.Status), inv.Mail.Error, nullNanos(inv.Mail.At), inv.Mail.Event)
	return err
}

// changeDetails writes what an InviteChange replaces beside the invite's fields.
func (s *Store) changeDetails(ctx context.Context, tx pgx.Tx, id string, c core.InviteChange) error {
	if c.TokenHash != nil {
		if _, err := tx.Exec(ctx, `UPDATE `+s.q.schema+`.invites SET token_hash = $2 WHERE id = $1`, id, c.TokenHash); err != nil {
			return err
		}
	}
	if c.Email != nil {
		if _, err := tx.Exec(ctx, `UPDATE `+s.q.schema+`.invites SET email = $2 WHERE id = $1 AND ended_at IS NULL`, id, *c.Email); err != nil {
			return err
		}
	}
	if m := c.Mail; m != nil {
		if _, err := tx.Exec(ctx, `UPDATE `+s.q.schema+`.invites SET email_status = $2, email_error = $3, email_at = $4,
			email_event = $5 WHERE id = $1`, id, string(m.Status), m.Error, nullNanos(m.At), m.Event); err != nil {
			return err
		}
	}
	return nil
}

// funnelColumn is the column of a stage's count; "" for a stage not counted per invite.
func funnelColumn(st core.Stage) string {
	switch st {
	case core.StagePageOpened:
		return "funnel_opened"
	case core.StageRegistrationStarted:
		return "funnel_started"
	case core.StageAccountCreated:
		return "funnel_accounts"
	case core.StageFirstLogin:
		return "funnel_logins"
	case core.StageStillActive:
		return "funnel_active"
	}
	return ""
}

// applyEffects writes the effects of deliveries in tx.
func (s *Store) applyEffects(ctx context.Context, tx pgx.Tx, effects []outbox.Effect) error {
	for _, e := range effects {
		if f := e.Funnel; f != nil {
			if err := s.addFunnel(ctx, tx, *f); err != nil {
				return err
			}
		}
		if m := e.Mail; m != nil {
			var hash []byte // nil (NULL) keeps the token
			if len(m.TokenHash) > 0 {
				hash = m.TokenHash
			}
			if _, err := tx.Exec(ctx, `UPDATE `+s.q.schema+`.invites SET email_status = $3, email_error = $4,
					email_at = $5, token_hash = COALESCE($6, token_hash)
				WHERE id = $1 AND email_event = $2 AND ended_at IS NULL`,
				m.InviteID, m.Mail.Event, string(m.Mail.Status), m.Mail.Error, nullNanos(m.Mail.At), hash); err != nil {
				return err
			}
		}
	}
	return nil
}

// addFunnel adds one count in tx.
func (s *Store) addFunnel(ctx context.Context, tx pgx.Tx, c core.FunnelCount) error {
	col := funnelColumn(c.Stage)
	if col == "" || c.N <= 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE `+s.q.schema+`.invites SET `+col+` = `+col+` + $2 WHERE id = $1`, c.InviteID, c.N)
	return err
}

// AddFunnel implements core.Store, in one transaction.
func (s *Store) AddFunnel(ctx context.Context, counts []core.FunnelCount) (rerr error) {
	defer classify(&rerr)
	if len(counts) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, c := range counts {
			if err := s.addFunnel(ctx, tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("counting the funnel: %w", err)
	}
	return nil
}

// InviteDetails implements core.Store.
func (s *Store) InviteDetails(ctx context.Context, ids []string) (_ map[string]core.Details, rerr error) {
	defer classify(&rerr)
	out := make(map[string]core.Details, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id, email, welcome, email_status, email_error, email_at, email_event,
			funnel_opened, funnel_started, funnel_accounts, funnel_logins, funnel_active
		FROM `+s.q.schema+`.invites WHERE id = ANY($1::text[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("reading invite details: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, status string
			d          core.Details
			at         *int64
			n          [5]int32
		)
		if err := rows.Scan(&id, &d.Email, &d.Welcome, &status, &d.Mail.Error, &at, &d.Mail.Event,
			&n[0], &n[1], &n[2], &n[3], &n[4]); err != nil {
			return nil, fmt.Errorf("reading invite details: %w", err)
		}
		d.Mail.Status, d.Mail.At = core.MailStatus(status), fromNullNanos(at)
		d.Funnel = core.Funnel{PageOpened: int(n[0]), RegistrationStarted: int(n[1]), AccountCreated: int(n[2]),
			FirstLogin: int(n[3]), StillActive: int(n[4])}
		out[id] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading invite details: %w", err)
	}
	return out, nil
}

// RemindInvites implements core.Store. Rows another node is changing are left for
// the next call.
func (s *Store) RemindInvites(ctx context.Context, q core.ReminderQuery, event func(core.Invite) core.Event) (_ []core.Invite, rerr error) {
	defer classify(&rerr)
	var out []core.Invite
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// ended_at IS NULL holds of every pending invite and lets the partial index of
		// pending invites answer, by expiry.
		var err error
		out, err = s.markInvites(ctx, tx, event, `UPDATE `+s.q.schema+`.invites SET reminded_at = $1
			WHERE id IN (SELECT id FROM `+s.q.schema+`.invites
				WHERE ended_at IS NULL AND expires_at > $1 AND expires_at <= $2 AND host = $3 AND state = 'open'
					AND reminded_at IS NULL AND expires_at - created_at > $4
				LIMIT $5 FOR UPDATE SKIP LOCKED)
			RETURNING `+inviteColumns,
			nanos(q.Now), nanos(q.Now.Add(q.Before)), q.Host, int64(2*q.Before), max(q.Limit, 1))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("noting invites to remind of: %w", err)
	}
	return out, nil
}

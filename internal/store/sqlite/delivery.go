package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

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
func writeDetails(ctx context.Context, tx *sql.Tx, inv core.Invite) error {
	if !hasDetails(inv) {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE invites SET email = ?, welcome = ?, email_status = ?, email_error = ?,
		email_at = ?, email_event = ? WHERE id = ?`,
		inv.Email, inv.Welcome, string(inv.Mail.Status), inv.Mail.Error, nullMicros(inv.Mail.At), inv.Mail.Event, inv.ID)
	return err
}

// changeDetails writes what an InviteChange replaces beside the invite's fields.
func changeDetails(ctx context.Context, tx *sql.Tx, id string, c core.InviteChange) error {
	if c.TokenHash != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE invites SET token_hash = ? WHERE id = ?`, c.TokenHash, id); err != nil {
			return err
		}
	}
	if c.Email != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE invites SET email = ? WHERE id = ? AND ended_at IS NULL`, *c.Email, id); err != nil {
			return err
		}
	}
	if m := c.Mail; m != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE invites SET email_status = ?, email_error = ?, email_at = ?, email_event = ?
			WHERE id = ?`, string(m.Status), m.Error, nullMicros(m.At), m.Event, id); err != nil {
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
func applyEffects(ctx context.Context, tx *sql.Tx, effects []outbox.Effect) error {
	for _, e := range effects {
		if f := e.Funnel; f != nil {
			if err := addFunnel(ctx, tx, *f); err != nil {
				return err
			}
		}
		if m := e.Mail; m != nil {
			var hash any // NULL keeps the token
			if len(m.TokenHash) > 0 {
				hash = m.TokenHash
			}
			if _, err := tx.ExecContext(ctx, `UPDATE invites SET email_status = ?, email_error = ?, email_at = ?,
					token_hash = COALESCE(?, token_hash)
				WHERE id = ? AND email_event = ? AND ended_at IS NULL`,
				string(m.Mail.Status), m.Mail.Error, nullMicros(m.Mail.At), hash, m.InviteID, m.Mail.Event); err != nil {
				return err
			}
		}
	}
	return nil
}

// addFunnel adds one count in tx.
func addFunnel(ctx context.Context, tx *sql.Tx, c core.FunnelCount) error {
	col := funnelColumn(c.Stage)
	if col == "" || c.N <= 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE invites SET `+col+` = `+col+` + ? WHERE id = ?`, c.N, c.InviteID)
	return err
}

// AddFunnel implements core.Store, in one transaction.
func (s *Store) AddFunnel(ctx context.Context, counts []core.FunnelCount) (rerr error) {
	defer s.classify(&rerr)
	if len(counts) == 0 {
		return nil
	}
	err := s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, c := range counts {
			if err := addFunnel(ctx, tx, c); err != nil {
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
	defer s.classify(&rerr)
	out := make(map[string]core.Details, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), 500)
		batch := ids[:n]
		ids = ids[n:]
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		rows, err := s.r.QueryContext(ctx, `SELECT id, email, welcome, email_status, email_error, email_at, email_event,
				funnel_opened, funnel_started, funnel_accounts, funnel_logins, funnel_active
			FROM invites WHERE id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("reading invite details: %w", err)
		}
		for rows.Next() {
			var (
				id, status string
				d          core.Details
				at         sql.NullInt64
			)
			f := &d.Funnel
			if err := rows.Scan(&id, &d.Email, &d.Welcome, &status, &d.Mail.Error, &at, &d.Mail.Event,
				&f.PageOpened, &f.RegistrationStarted, &f.AccountCreated, &f.FirstLogin, &f.StillActive); err != nil {
				rows.Close()
				return nil, fmt.Errorf("reading invite details: %w", err)
			}
			d.Mail.Status, d.Mail.At = core.MailStatus(status), fromNullMicros(at)
			out[id] = d
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("reading invite details: %w", err)
		}
	}
	return out, nil
}

// RemindInvites implements core.Store.
func (s *Store) RemindInvites(ctx context.Context, q core.ReminderQuery, event func(core.Invite) core.Event) (_ []core.Invite, rerr error) {
	defer s.classify(&rerr)
	var out []core.Invite
	err := s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// ended_at IS NULL holds of every pending invite and lets the partial index of
		// pending invites answer, by expiry.
		var err error
		out, err = s.markInvitesTx(ctx, tx, event, `UPDATE invites SET reminded_at = ?
			WHERE id IN (SELECT id FROM invites
				WHERE ended_at IS NULL AND expires_at > ? AND expires_at <= ? AND host = ? AND state = 'open'
					AND reminded_at IS NULL AND expires_at - created_at > ?
				LIMIT ?)
			RETURNING `+inviteColumns,
			micros(q.Now), micros(q.Now), micros(q.Now.Add(q.Before)), q.Host, (2 * q.Before).Microseconds(), max(q.Limit, 1))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("noting invites to remind of: %w", err)
	}
	return out, nil
}

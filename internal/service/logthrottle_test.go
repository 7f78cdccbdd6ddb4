package service

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/internal/commands"
	"github.com/xmpp-invites/invites/internal/commands/session"
	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
	"github.com/xmpp-invites/invites/internal/testlog"
	"github.com/xmpp-invites/invites/plugin"
)

// fullStore is a SQLite store whose writes fail as on a full disk.
type fullStore struct{ *sqlite.Store }

var errFull = errors.New("database or disk is full")

func (fullStore) CreateInvite(context.Context, core.Invite, core.InviteWrite) error { return errFull }

func (fullStore) ChangeInvite(context.Context, string, func(*core.Invite) (core.InviteChange, error)) (core.Invite, error) {
	return core.Invite{}, errFull
}

// TestFullDiskLogsBounded is issue 15's "every request on a full disk logs a line": with
// a store whose writes fail, many HTTP requests (each a 500) and ad-hoc commands log
// one line each per period, not one per request.
func TestFullDiskLogsBounded(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{Durability: sqlite.DurabilityCrash})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc, err := core.NewService(core.Options{Store: fullStore{st}, Hosts: []core.HostConfig{{Domain: "example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, cred, err := svc.CreateKey(ctx, core.KeySpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	var sink testlog.Buffer
	s := New(slog.New(slog.NewTextHandler(&sink, nil)))
	hosts := []core.HostConfig{{Domain: "example.com"}}
	if s.ops, err = newOps(config.Config{}, plugin.Config{}, nil, hosts, fullStore{st}, s.log); err != nil {
		t.Fatal(err)
	}
	mux, _ := s.routes(svc, config.Config{}, nil, nil)
	cmds, err := commands.New(svc, nil, commands.Options{Sessions: session.Options{Logger: s.log.With("component", "commands")}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/invites_api", nil)
		r.Header.Set("Authorization", "Bearer "+cred)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("request %d on a full disk: %d, want 500", i, rec.Code)
		}
		// An administrator's ad-hoc invite creation fails too.
		req := adhoc.Request{Node: commands.NodeCreateAccount, Requester: "admin@example.com/r", Role: adhoc.RoleAdmin}
		start, err := cmds.Execute(ctx, "example.com", req)
		if err != nil || start.Status != adhoc.StatusExecuting {
			t.Fatalf("ad-hoc create-account: %+v, %v", start, err)
		}
		req.SessionID, req.Action, req.Form = start.SessionID, adhoc.ActionComplete, &adhoc.Form{Type: adhoc.FormSubmit}
		if resp, err := cmds.Execute(ctx, "example.com", req); err != nil || len(resp.Notes) == 0 || resp.Notes[0].Type != adhoc.NoteError {
			t.Fatalf("ad-hoc create-account on a full disk: %+v, %v; want an error note", resp, err)
		}
	}
	if got := sink.Lines("invites api failed", "database or disk is full"); len(got) != 1 {
		t.Errorf("%d log lines for %d failed requests, want 1:\n%s", len(got), n, strings.Join(got, "\n"))
	}
	if got := sink.Lines("ad-hoc command failed", "database or disk is full"); len(got) != 1 {
		t.Errorf("%d log lines for %d failed ad-hoc commands, want 1:\n%s", len(got), n, strings.Join(got, "\n"))
	}
	if got := sink.Lines("level=ERROR"); len(got) > 2 {
		t.Errorf("%d error lines for %d failed requests and commands, want at most one of each kind:\n%s",
			len(got), n, strings.Join(got, "\n"))
	}
}

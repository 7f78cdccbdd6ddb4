package commands_test

import (
	"context"
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/internal/core"
)

// FuzzExecuteSubmitted feeds raw <command/> elements with submitted forms through the
// decoder into the commands, as an administrator, over the SQLite store.
// A request whose sessionid is not empty is put into a fresh session of its node, so
// that forms reach the commands' checks.
// The commands must never panic, must fail only with *adhoc.Error (or complete with
// an error note), must leave the store unchanged when they refuse a form, and must
// answer with responses that encode and decode.
// Seeds are in testdata/fuzz/FuzzExecuteSubmitted.
func FuzzExecuteSubmitted(f *testing.F) {
	f.Add(`<command xmlns="http://jabber.org/protocol/commands" node="urn:xmpp-invites:keys#create" sessionid="S" action="complete"><x xmlns="jabber:x:data" type="submit"><field var="name"><value>x</value></field></x></command>`)
	e := newEnv(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, in string) {
		req, err := adhoc.DecodeRequest(xml.NewDecoder(strings.NewReader(in)), nil, adhoc.Limits{})
		if err != nil {
			var ae *adhoc.Error
			if !errors.As(err, &ae) {
				t.Fatalf("decoding: not an *adhoc.Error: %v", err)
			}
			return
		}
		// Keep a few keys to delete, and not too many to list.
		keys := e.keys(t, host)
		for len(keys) < 2 {
			if _, _, err := e.svc.CreateKey(ctx, core.KeySpec{Host: host, Name: "seed"}); err != nil {
				t.Fatal(err)
			}
			keys = e.keys(t, host)
		}
		for len(keys) > 20 {
			if err := e.svc.DeleteKey(ctx, core.Actor{Kind: core.ActorCLI}, host, keys[0].ID); err != nil {
				t.Fatal(err)
			}
			keys = keys[1:]
		}
		req.Requester, req.Role = admin, adhoc.RoleAdmin
		if req.SessionID != "" {
			start, err := e.srv.Execute(ctx, host, adhoc.Request{Requester: admin, Role: adhoc.RoleAdmin, Node: req.Node})
			if err != nil {
				return // unknown node
			}
			if start.Status != adhoc.StatusExecuting {
				return
			}
			req.SessionID = start.SessionID
		}
		newestBefore := newestInvite(t, e)
		resp, err := e.srv.Execute(ctx, host, req)
		after := e.keys(t, host)
		if err != nil {
			var ae *adhoc.Error
			if !errors.As(err, &ae) {
				t.Fatalf("executing: not an *adhoc.Error: %v", err)
			}
			if len(after) != len(keys) {
				t.Fatalf("refused with %v, yet the store went from %d to %d keys", ae, len(keys), len(after))
			}
			if newest := newestInvite(t, e); newest != newestBefore {
				t.Fatalf("refused with %v, yet invite %s was made", ae, newest)
			}
			return
		}
		for _, n := range resp.Notes {
			switch {
			case n.Type != adhoc.NoteError:
			case resp.Status == adhoc.StatusExecuting:
				// A refused value: the form again, and nothing done.
				if len(after) != len(keys) {
					t.Fatalf("refused with %q, yet the store went from %d to %d keys", n.Text, len(keys), len(after))
				}
				if newest := newestInvite(t, e); newest != newestBefore {
					t.Fatalf("refused with %q, yet invite %s was made", n.Text, newest)
				}
			default:
				t.Fatalf("a command failed: %+v", resp)
			}
		}
		if d := len(after) - len(keys); d > 1 || d < -len(keys) {
			t.Fatalf("store went from %d to %d keys", len(keys), len(after))
		}
		text := encodeTB(t, resp.TokenReader())
		if _, err := adhoc.DecodeResponse(xml.NewDecoder(strings.NewReader(text)), nil, adhoc.Limits{}); err != nil {
			t.Fatalf("response does not decode: %v\n%s", err, text)
		}
		if req.SessionID != "" && resp.Status == adhoc.StatusExecuting {
			// Leave no session behind.
			if _, err := e.srv.Execute(ctx, host, adhoc.Request{Requester: admin, Role: adhoc.RoleAdmin, Node: req.Node, SessionID: resp.SessionID, Action: adhoc.ActionCancel}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// newestInvite returns the ID of the host's newest invite, or "".
func newestInvite(t *testing.T, e *env) string {
	t.Helper()
	page, err := e.svc.ListInvites(context.Background(), core.Actor{Kind: core.ActorCLI, Manage: true}, core.InviteQuery{Host: host, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Invites) == 0 {
		return ""
	}
	return page.Invites[0].ID
}

package commands_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/adhoc/adhoctest"
	"github.com/xmpp-invites/invites/internal/commands"
	"github.com/xmpp-invites/invites/internal/core"
	"mellium.im/xmpp/stanza"
)

// maxPageStanza is what a page of a list may take on the wire: a quarter of xmppd's
// default max_stanza_size (256 KiB), and what adhoc's decoder accepts of a request
// (64 KiB), since clients send a page's fields back with next.
const maxPageStanza = 64 << 10

// page is one response of a paged list, with its size as an IQ on the wire.
type page struct {
	resp adhoc.Response
	size int
}

// pageThrough runs a list command over the stream from its first response (of a
// request made with req) to its last page, sending next with each page's fields back,
// as clients do; it returns every page.
func pageThrough(t *testing.T, p *adhoctest.Pair, req adhoc.Request) []page {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var pages []page
	for range 1000 {
		resp, err := p.Execute(ctx, req)
		if err != nil {
			t.Fatalf("page %d: %v", len(pages)+1, err)
		}
		iq := stanza.IQ{ID: "0123456789", Type: stanza.ResultIQ, From: p.Host, To: p.Bound}
		pages = append(pages, page{resp: resp, size: len(encodeTB(t, iq.Wrap(resp.TokenReader())))})
		if resp.Status != adhoc.StatusExecuting {
			return pages
		}
		echo := &adhoc.Form{Type: adhoc.FormSubmit}
		for _, fl := range resp.Form.Fields {
			if fl.Type != adhoc.FieldFixed {
				echo.Fields = append(echo.Fields, adhoc.Field{Var: fl.Var, Values: fl.Values})
			}
		}
		req = adhoc.Request{Node: req.Node, SessionID: resp.SessionID, Action: adhoc.ActionNext, Form: echo}
	}
	t.Fatal("no last page")
	return nil
}

// checkPages checks that every page fits maxPageStanza, offers next (the default)
// while more follow, and says which entries it shows ("Keys 1–25 of 1000; Next shows
// more"), numbered on from the page before; it returns the rows of every page.
func checkPages(t *testing.T, pages []page, noun string, total int, fields string) []map[string]string {
	t.Helper()
	var rows []map[string]string
	for i, pg := range pages {
		if pg.size > maxPageStanza {
			t.Errorf("page %d is %d bytes", i+1, pg.size)
		}
		r := formRows(t, pg.resp.Form, fields)
		last := i == len(pages)-1
		shows := pg.resp.Form.Fields[0].Values[0]
		want := fmt.Sprintf("%ss %d–%d", noun, len(rows)+1, len(rows)+len(r))
		if total >= 0 {
			want += fmt.Sprintf(" of %d", total)
		}
		if last {
			want += ", the last."
		} else {
			want += "; Next shows more."
		}
		if shows != want {
			t.Errorf("page %d says %q, want %q", i+1, shows, want)
		}
		if wantStatus := map[bool]adhoc.Status{true: adhoc.StatusCompleted, false: adhoc.StatusExecuting}[last]; pg.resp.Status != wantStatus ||
			(!last && (pg.resp.DefaultAction != adhoc.ActionNext || !slices.Contains(pg.resp.Actions, adhoc.ActionComplete))) {
			t.Errorf("page %d: %s, actions %v default %s", i+1, pg.resp.Status, pg.resp.Actions, pg.resp.DefaultAction)
		}
		rows = append(rows, r...)
	}
	return rows
}

// TestKeyListPages (issue 21 LOW 7): "List API keys" failed past 341 keys; 1,000
// keys come page by page, each page well under the stanza limit, every key once, in
// order, and a client sending each page back with next is understood.
func TestKeyListPages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var ids []string
	for i := range 1000 {
		// Long names, full of what XML escapes, cost the most.
		k, _, err := e.svc.CreateKey(ctx, core.KeySpec{Host: host, Name: fmt.Sprintf("%04d %s", i, strings.Repeat("<&>", 40)),
			Rate: core.Rate{N: 10, Period: time.Hour}, MaxTTL: 48 * time.Hour, Manage: i%2 == 0})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
	}
	pages := pageThrough(t, pair(t, e, admin), adhoc.Request{Node: commands.NodeListKeys})
	if len(pages) < 2 {
		t.Fatalf("%d pages", len(pages))
	}
	rows := checkPages(t, pages, "Key", 1000, "keys id name created expires last-used uses manage max-ttl rate")
	var got []string
	for _, r := range rows {
		got = append(got, r["id"])
		if !strings.HasSuffix(r["name"], "…") || len([]rune(r["name"])) != 100 {
			t.Fatalf("a long name is not clipped in its column: %q", r["name"])
		}
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("%d keys listed, want the 1000 in order", len(got))
	}
	t.Logf("%d pages, the largest %d bytes", len(pages), slices.MaxFunc(pages, func(a, b page) int { return a.size - b.size }).size)
}

// TestInviteListPages (issue 21 LOW 7): "List invites" failed for one invite with
// ~240 uses, or 5 uses with 1,000-character names. An invite with 1,000 uses of
// 1,000-character names, and 30 invites of 5 such uses each, come page by page, each
// page well under the stanza limit, the accounts that used an invite summarised.
func TestInviteListPages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	by := core.Actor{Kind: core.ActorJID, ID: "admin@example.com", Manage: true}
	name := func(i int) string { return fmt.Sprintf("u%04d%s", i, strings.Repeat("x", 995)) }
	create := func(uses int, note string) core.Invite {
		t.Helper()
		inv, err := e.svc.CreateInvite(ctx, core.InviteSpec{Host: host, Kind: core.KindAccount, MaxUses: &uses, Note: note, Actor: by,
			Groups: []string{strings.Repeat("g", 60), strings.Repeat("h", 60)}})
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	redeem := func(inv core.Invite, from, n int) {
		t.Helper()
		for i := range n {
			if _, err := e.svc.Redeem(ctx, core.Redemption{Host: host, Token: inv.Token, Username: name(from + i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	big := create(1000, "the big one")
	redeem(big, 0, 1000)
	var ids []string
	for i := range 30 {
		inv := create(5, strings.Repeat("&", 280)) // the longest note, all escaped
		redeem(inv, 1000+5*i, 5)
		ids = append(ids, inv.ID)
	}
	slices.Reverse(ids) // newest first
	ids = append(ids, big.ID)

	// The status form first, then the pages.
	p := pair(t, e, admin)
	first, err := p.Execute(ctx, adhoc.Request{Node: commands.NodeListInvites})
	if err != nil || first.Form == nil || first.Form.Fields[0].Var != "status" {
		t.Fatalf("the status form: %+v %v", first, err)
	}
	pages := pageThrough(t, p, adhoc.Request{Node: commands.NodeListInvites, SessionID: first.SessionID, Action: adhoc.ActionNext, Form: submit("status", "used")})
	if len(pages) < 3 {
		t.Fatalf("%d pages", len(pages))
	}
	rows := checkPages(t, pages, "Used invite", -1, "invites id kind status uses max-uses created expires created-by username note groups used-by")
	var got []string
	for _, r := range rows {
		got = append(got, r["id"])
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("listed %v, want %v", got, ids)
	}
	last := rows[len(rows)-1]
	if !strings.HasSuffix(last["used-by"], " and 990 more") || strings.Count(last["used-by"], ", ") != 9 ||
		!strings.Contains(last["line"], " and 997 more") || last["uses"] != "1000" {
		t.Fatalf("the big invite's row: %v", last)
	}
	t.Logf("%d pages, the largest %d bytes", len(pages), slices.MaxFunc(pages, func(a, b page) int { return a.size - b.size }).size)
}

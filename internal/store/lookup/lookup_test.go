package lookup_test

import (
	"testing"

	"github.com/xmpp-invites/invites/internal/store/lookup"
)

func TestQuery(t *testing.T) {
	for i, tc := range []struct {
		param, table, columns string
		decoys                []string
		want                  string
	}{
		0: {"?1", "keys", "id, name,\n\tuses", []string{"''", ""},
			"SELECT l.id, coalesce(t.name, ''), t.uses, t.id IS NOT NULL FROM (SELECT ?1 AS id) AS l LEFT JOIN keys AS t ON t.id = l.id"},
		1: {"$1::text", "s.invites", "id", nil,
			"SELECT l.id, t.id IS NOT NULL FROM (SELECT $1::text AS id) AS l LEFT JOIN s.invites AS t ON t.id = l.id"},
	} {
		if got := lookup.Query(tc.param, tc.table, tc.columns, tc.decoys...); got != tc.want {
			t.Errorf("%d: Query = %q, want %q", i, got, tc.want)
		}
	}
}

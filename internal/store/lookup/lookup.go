package lookup

import "strings"

// Query returns a query of the row of table whose id is param (the dialect's
// parameter: "$1::text" for PostgreSQL, "?1" for SQLite), with the columns given (a
// comma-separated list whose first is id), that always answers exactly one row: the
// row, or when there is none a decoy of the same shape with the decoy values given
// for the other columns ("" for a column left NULL), and a last column saying whether
// it was found.
// One index lookup and one row decoded either way, in one plan (a LEFT JOIN of the
// parameter).
func Query(param, table, columns string, decoys ...string) string {
	cols := strings.Split(columns, ",")
	var b strings.Builder
	b.WriteString("SELECT l.id")
	for i, c := range cols[1:] {
		c = "t." + strings.TrimSpace(c)
		if d := decoys[i]; d != "" {
			c = "coalesce(" + c + ", " + d + ")"
		}
		b.WriteString(", " + c)
	}
	b.WriteString(", t.id IS NOT NULL FROM (SELECT " + param + " AS id) AS l LEFT JOIN " + table + " AS t ON t.id = l.id")
	return b.String()
}

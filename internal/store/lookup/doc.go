// Package lookup builds the SQL of a lookup by ID that always answers one row, the row
// or a decoy of its shape, so that an ID that does not exist costs what one that does
// costs (issue 21); both stores build their key and invite lookups with it.
package lookup

package postgres

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// ListenerPID returns the backend PID of the store's key listener, 0 before it first
// connects.
func ListenerPID(s *Store) uint32 { return s.listen.pid.Load() }

// MigrationSQL returns the SQL of migration v (1-based) for a schema, to build old
// databases.
func MigrationSQL(v int, schema string) string {
	return strings.ReplaceAll(migrations()[v-1], "{s}", pgx.Identifier{schema}.Sanitize())
}

// Package pgtest gives each test its own PostgreSQL schema on the test database, for
// tests of the PostgreSQL store and of anything running on it (two nodes, plugin
// processes).
//
// The database is named by the environment variable INVITES_TEST_POSTGRES, by default
// the loopback server of CI:
//
//	postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//
// An unreachable database fails the test, never skips it: CI must not pass without
// having run the PostgreSQL tests.
package pgtest

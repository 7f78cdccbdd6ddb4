// Package store opens the [core.Store] an address names.
//
// Two backends implement the store contract, and both pass the suite in
// internal/store/storetest:
//
//	a file path, sqlite:PATH or file:PATH          the embedded SQLite file (package sqlite)
//	postgres://… or postgresql://…                 PostgreSQL, for several nodes sharing one store
//	host=… dbname=… (keyword/value pairs)          PostgreSQL too
//
// Anything else is refused by [Parse] with an error saying what is accepted: a mistyped
// "postgress://…" never becomes a SQLite file named after it.
//
// The SQLite backend is pure Go (no cgo), runs in WAL mode and applies its versioned
// migrations when opened; [Options] carries its durability.
package store

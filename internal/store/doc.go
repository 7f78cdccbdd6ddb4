// Package store opens the [core.Store] a data source name names.
//
// Two backends implement the store contract, and both pass the suite in
// internal/store/storetest:
//
//	sqlite:PATH, file:PATH or a bare PATH   the embedded SQLite file (package sqlite)
//	postgres://… or postgresql://…          PostgreSQL, for several nodes sharing one store
//
// The SQLite backend is pure Go (no cgo), runs in WAL mode and applies its versioned
// migrations when opened.
package store

// Package store opens the [Store] an address names.
//
// [Store] is the one interface of a store: the core's keys, invites and host records
// ([core.Store]), the webhook outbox's delivery side, and the counts the metrics read.
// Two backends implement it, checked at compile time, and both pass the suite in
// internal/store/storetest; callers hold a Store and never look for capabilities at
// run time:
//
//	a file path, sqlite:PATH or file:PATH          the embedded SQLite file (package sqlite)
//	postgres://… or postgresql://…                 PostgreSQL, for several nodes sharing one store
//	host=… dbname=… (keyword/value pairs)          PostgreSQL too
//
// Anything else is refused by [Parse] with an error saying what is accepted: a mistyped
// "postgress://…" never becomes a SQLite file named after it.
//
// The SQLite backend is pure Go (no cgo), runs in WAL mode and applies its versioned
// migrations when opened; [Options] carries its durability. [Config] is the store's
// part of the plugin's config (data_dir, store, durability), with its defaults.
package store

// Package storetest is the contract every [core.Store] backend must meet, written once
// against the interface: the SQLite store and the PostgreSQL store run the same [Run].
//
// It checks each method's results and sentinel errors (core.ErrNotFound, ErrExpired,
// ErrForbidden, ErrConflict), and the promises that matter under load: of many
// concurrent redemptions of one invite exactly one wins, and concurrent creates are all
// readable afterwards.
package storetest

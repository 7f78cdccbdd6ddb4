// Package session is the responder's engine of ad-hoc commands (XEP-0050): a Server
// runs a set of command Definitions, each a series of XEP-0004 form Stages and a
// Complete that may answer page by page, with the sessions, actions and errors
// XEP-0050 asks for.
//
// It is the plugin's side of package adhoc: a Server is an adhoc.Executor, which the
// host's adhoc.Handler calls across the plugin boundary.
// It knows nothing of particular clients: how responses are laid out for them is
// package commands' business.
package session

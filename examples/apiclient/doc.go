// Command apiclient is a program outside the invites module that uses its HTTP API
// through the Go client of package httpapi, against a running server: it creates an
// invite with a note and a group, finds it among the pending ones, shows it, gives it
// two more weeks and revokes it, saying what it did at each step.
//
//	INVITES_URL=http://127.0.0.1:5280/invites_api INVITES_KEY=ID/SECRET go run .
//
// INVITES_URL is where the API is mounted; INVITES_KEY an API key of the server
// ("invites-plugin keys create HOST"). The Examples of this module run against the
// same server when both are set (go test); without them they are skipped.
package main

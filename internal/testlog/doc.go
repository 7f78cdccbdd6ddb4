// Package testlog holds what the tests of every package use to read a log that many
// goroutines write: Buffer. It is for tests only.
package testlog

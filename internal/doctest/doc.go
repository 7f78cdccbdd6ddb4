// Package doctest reads the project's Markdown documentation for the tests that hold
// it to the code: README.md and docs/*.md (CommonMark, as GitHub renders it), their
// fenced code blocks, their headings' anchors and their links.
//
// Tests use it to run the commands the documentation shows (the curl examples, the
// TOML configurations) against the real thing, and its own test checks that every
// relative link of every page leads to a file, and to a heading where it names one.
package doctest

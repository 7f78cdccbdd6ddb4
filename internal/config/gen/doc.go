// Command gen writes docs/configuration.md, the configuration reference of the plugin
// and of xmppd, from the code that defines their settings (package reference reads
// it); run by go generate in internal/config. Its test fails when the committed file
// differs from what it writes.
//
// Usage:
//
//	go run ./internal/config/gen [-o FILE]
package main

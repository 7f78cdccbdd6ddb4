// Package pluginv3 is the generated Go side of invites.proto, the gRPC control plane
// of protocol version 3 between an XMPP server and the invites plugin (package
// invites.plugin.v3).
//
// Only package plugin uses it: its glue turns these messages into the Go values of
// plugin.Invites and plugin.HostAPI and back.
// Regenerate with `go generate` after editing invites.proto; it needs protoc
// (Debian's protobuf-compiler) and the protoc-gen-go and protoc-gen-go-grpc tools
// pinned in go.mod.
// The generated files are committed, so building needs none of them.
package pluginv3

//go:generate sh -c "protoc --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --plugin=protoc-gen-go-grpc=$(go tool -n protoc-gen-go-grpc) -I . --go_out=paths=source_relative:. --go-grpc_out=paths=source_relative:. invites.proto"

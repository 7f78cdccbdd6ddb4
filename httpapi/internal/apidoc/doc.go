// Command apidoc writes docs/http-api.md, the HTTP API for people, from
// httpapi/openapi.yaml (OpenAPI 3.1), so that the two cannot say different things.
// It runs from the httpapi directory with go generate:
//
//	go generate ./httpapi
//
// Each operation gets a section with its parameters, its body, its answers and the
// curl commands of its x-codeSamples; the objects follow. Operations whose only answer
// is 405 are summed up in one line.
package main

// Package httpstatus remembers the status code an http.Handler answered, for the logs
// and metrics that report it after the handler has returned.
package httpstatus

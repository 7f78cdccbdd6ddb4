//go:build !unix

package sqlite

import "errors"

// keyWatch is not available on this system: keys are read on every request.
type keyWatch struct{}

func openKeyWatch(string) (*keyWatch, error) {
	return nil, errors.New("no shared memory counter on this system")
}

func (*keyWatch) version() uint64 { return 0 }
func (*keyWatch) bump()           {}
func (*keyWatch) close() error    { return nil }

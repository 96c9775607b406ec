package state

import "errors"

var (
	// ErrClosed: a call on a backend after its Close.
	ErrClosed = errors.New("state: backend closed")
	// ErrSnapshot: bytes that are not a snapshot in this package's format
	// (a wrong magic, a truncated or corrupt stream, keys out of order).
	ErrSnapshot = errors.New("state: invalid snapshot")
)

package avro

import "errors"

var (
	// ErrClosed is returned by Read after Close.
	ErrClosed = errors.New("avro: source closed")

	// ErrInvalidOption is returned (wrapped) by NewSource for an option
	// out of range.
	ErrInvalidOption = errors.New("avro: invalid option")

	// ErrNotAvro is returned (wrapped, naming the file, with the
	// decoder's error) by NewSource for a file that is not an Avro object
	// container file, or whose schema has no Arrow equivalent.
	ErrNotAvro = errors.New("avro: not an Avro object container file")
)

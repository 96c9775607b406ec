package node

import "errors"

var (
	// ErrConfig: an invalid node config file (syntax, unknown key, wrong
	// type, missing or out-of-range value). The message gives the line.
	ErrConfig = errors.New("node: invalid config")
	// ErrUnknownName: a component, system or resource name the registry
	// does not have.
	ErrUnknownName = errors.New("node: unknown name")
)

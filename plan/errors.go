package plan

import "errors"

var (
	// ErrConfig: an invalid pipeline or node config (syntax, unknown key,
	// wrong type, missing or out-of-range value). The message gives the
	// file and line, or the key.
	ErrConfig = errors.New("invalid config")
	// ErrUnknownName: a component, system or resource name the registry
	// does not have.
	ErrUnknownName = errors.New("unknown name")
	// ErrSchema: an input partition's columns do not fit the input
	// component (a missing column, an uncastable type, a null in a
	// non-nullable field). Redelivery cannot fix it.
	ErrSchema = errors.New("plan: input does not fit the input component")
)

package node

import "github.com/pcs-dev/pcs/plan"

// ErrConfig: an invalid node config file (syntax, unknown key, wrong
// type, missing or out-of-range value); the message gives the line. It is
// plan.ErrConfig, so errors.Is works with either.
var ErrConfig = plan.ErrConfig

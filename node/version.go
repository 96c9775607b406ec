package node

import (
	"fmt"
	"runtime/debug"
)

// Version describes the running binary from its build info: the module
// version ("(devel)" for a build from a checkout, vX.Y.Z for `go install
// ...@vX.Y.Z`), the VCS commit and time when the build recorded them (a
// "+dirty" suffix for uncommitted changes), and the Go version, e.g.
// "github.com/pcs-dev/pcs (devel) commit 1a2b3c4d5e6f 2026-12-06T13:00:00Z go1.26.8".
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "pcs (no build info)"
	}
	s := fmt.Sprintf("%s %s", bi.Main.Path, bi.Main.Version)
	var rev, at, dirty string
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.time":
			at = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		s += fmt.Sprintf(" commit %.12s%s %s", rev, dirty, at)
	}
	return s + " " + bi.GoVersion
}

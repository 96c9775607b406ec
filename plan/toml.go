package plan

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/pelletier/go-toml/v2"
)

// Duration is a TOML duration written as a string with a unit: "250ms",
// "10s", "2m", or whole days "7d".
type Duration time.Duration

// UnmarshalText parses "10s" style durations (time.ParseDuration) and
// whole days ("7d").
func (d *Duration) UnmarshalText(b []byte) error {
	if days, ok := strings.CutSuffix(string(b), "d"); ok { // "7d": whole days, which Go durations lack
		if n, err := strconv.ParseInt(days, 10, 64); err == nil {
			*d = Duration(time.Duration(n) * 24 * time.Hour)
			return nil
		}
	}
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want a number with a unit, like \"10s\", \"250ms\" or \"7d\"", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText renders the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Size is a TOML byte size written as a string with a unit: "64MiB",
// "1 MB", "512KiB" (IEC and SI units, go-humanize), or a bare integer of
// bytes.
type Size int64

// UnmarshalText parses sizes like "64MiB".
func (s *Size) UnmarshalText(b []byte) error {
	v, err := humanize.ParseBytes(string(b))
	if err != nil || v > 1<<62 {
		return fmt.Errorf("size %q: want bytes with a unit, like \"64MiB\" or \"1MB\"", b)
	}
	*s = Size(v)
	return nil
}

// MarshalText renders the size in IEC units.
func (s Size) MarshalText() ([]byte, error) { return []byte(humanize.IBytes(uint64(s))), nil }

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// ExpandEnv replaces ${VAR} with the environment variable's value and
// ${VAR:-default} with the default when VAR is unset or empty. A ${VAR}
// without default that is unset is an error naming it and its line.
func ExpandEnv(src []byte) ([]byte, error) {
	var missing []string
	out := envRef.ReplaceAllFunc(src, func(m []byte) []byte {
		g := envRef.FindSubmatch(m)
		if v := os.Getenv(string(g[1])); v != "" {
			return []byte(v)
		}
		if g[2] != nil {
			return g[3]
		}
		line := 1 + bytes.Count(src[:bytes.Index(src, m)], []byte("\n"))
		missing = append(missing, fmt.Sprintf("line %d: ${%s} is not set and has no default", line, g[1]))
		return m
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrConfig, strings.Join(missing, "; "))
	}
	return out, nil
}

// DecodeStrict expands environment references in src and decodes it into
// v (a pointer to a struct with toml tags). Unknown keys and wrong types
// are errors that give the line and column; name labels the source in
// messages (a file name).
func DecodeStrict(name string, src []byte, v any) error {
	src, err := ExpandEnv(src)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	dec := toml.NewDecoder(bytes.NewReader(src))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %s", ErrConfig, name, describeTOMLError(err))
	}
	return nil
}

// describeTOMLError renders go-toml's errors with their positions.
func describeTOMLError(err error) string {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		msgs := make([]string, len(strict.Errors))
		for i, e := range strict.Errors {
			row, col := e.Position()
			msgs[i] = fmt.Sprintf("line %d, column %d: unknown key %q", row, col, strings.Join(e.Key(), "."))
		}
		return strings.Join(msgs, "; ")
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		key := ""
		if k := de.Key(); len(k) > 0 {
			key = fmt.Sprintf(" (key %q)", strings.Join(k, "."))
		}
		return fmt.Sprintf("line %d, column %d%s: %s", row, col, key, strings.TrimPrefix(de.Error(), "toml: "))
	}
	return err.Error()
}

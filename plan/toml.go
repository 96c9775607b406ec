package plan

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
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

// UnmarshalTOML takes only a TOML string (a bare number would be a
// duration without a unit: 5 would mean 5ns). It is used by the decoders
// of this package (DecodeStrict, Options.Decode).
func (d *Duration) UnmarshalTOML(raw []byte) error {
	s, err := tomlString(raw, "a duration like \"10s\"")
	if err != nil {
		return err
	}
	if err := d.UnmarshalText([]byte(s)); err != nil {
		return &valueError{raw: strings.TrimSpace(string(raw)), msg: err.Error()}
	}
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

// UnmarshalTOML takes a TOML string with a unit or a bare integer of
// bytes.
func (s *Size) UnmarshalTOML(raw []byte) error {
	if n, err := strconv.ParseInt(strings.ReplaceAll(string(raw), "_", ""), 10, 64); err == nil {
		if n < 0 {
			return &valueError{raw: string(raw), msg: fmt.Sprintf("want a size like \"64MiB\" or a number of bytes, got %d", n)}
		}
		*s = Size(n)
		return nil
	}
	str, err := tomlString(raw, "a size like \"64MiB\" or a number of bytes")
	if err != nil {
		return err
	}
	if err := s.UnmarshalText([]byte(str)); err != nil {
		return &valueError{raw: strings.TrimSpace(string(raw)), msg: err.Error()}
	}
	return nil
}

// tomlString returns the text of a raw TOML string value (basic or
// literal, one line), or an error saying what was wanted and what the
// value is.
func tomlString(raw []byte, want string) (string, error) {
	v := strings.TrimSpace(string(raw))
	switch {
	case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
		return v[1 : len(v)-1], nil
	case len(v) >= 2 && v[0] == '"':
		if s, err := strconv.Unquote(v); err == nil {
			return s, nil
		}
	}
	return "", &valueError{raw: v, msg: fmt.Sprintf("want %s, got %s", want, tomlKind(v))}
}

// tomlKind names the kind of a raw TOML value as a config's author would.
func tomlKind(v string) string {
	switch {
	case v == "true" || v == "false":
		return "a boolean"
	case strings.HasPrefix(v, "["):
		return "an array"
	case strings.HasPrefix(v, "{"):
		return "a table"
	case strings.HasPrefix(v, "\"") || strings.HasPrefix(v, "'"):
		return "a string"
	}
	if _, err := strconv.ParseInt(strings.ReplaceAll(v, "_", ""), 0, 64); err == nil {
		return "an integer (" + v + ")"
	}
	return "a number (" + v + ")"
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
	dec.DisallowUnknownFields().EnableUnmarshalerInterface()
	if err := dec.Decode(v); err != nil {
		var ve *valueError
		if errors.As(err, &ve) {
			return fmt.Errorf("%w: %s: %s", ErrConfig, name, ve.locate(src))
		}
		return fmt.Errorf("%w: %s: %s", ErrConfig, name, describeTOMLError(err))
	}
	return nil
}

// valueError is a value of the wrong kind for a Duration or Size: go-toml
// returns an UnmarshalTOML error without its key or position, so
// DecodeStrict finds them (locate).
type valueError struct {
	raw, msg string
}

func (e *valueError) Error() string { return e.msg }

// locate returns the error with the key and line of the first key-value
// of src whose raw value is e's.
func (e *valueError) locate(src []byte) string {
	var p unstable.Parser
	p.Reset(src)
	var table []string
	var walk func(prefix []string, kv *unstable.Node) string
	walk = func(prefix []string, kv *unstable.Node) string {
		key := slices.Clone(prefix)
		for it := kv.Key(); it.Next(); {
			key = append(key, string(it.Node().Data))
		}
		v := kv.Value()
		if v.Kind == unstable.InlineTable {
			for it := v.Children(); it.Next(); {
				if at := walk(key, it.Node()); at != "" {
					return at
				}
			}
			return ""
		}
		if strings.TrimSpace(string(p.Raw(v.Raw))) == e.raw {
			return fmt.Sprintf("%s (line %d): %s", strings.Join(key, "."), p.Shape(v.Raw).Start.Line, e.msg)
		}
		return ""
	}
	for p.NextExpression() {
		expr := p.Expression()
		switch expr.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = table[:0]
			for it := expr.Key(); it.Next(); {
				table = append(table, string(it.Node().Data))
			}
		case unstable.KeyValue:
			if at := walk(table, expr); at != "" {
				return at
			}
		}
	}
	return e.msg
}

// describeTOMLError renders go-toml's errors in the config's terms:
// `pipeline.max_in_flight (line 7, column 17): want an integer, got a
// string`, not Go struct paths.
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
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if m := typeMismatch.FindStringSubmatch(msg); m != nil {
			msg = fmt.Sprintf("want %s, got %s", goKind(m[2]), article(m[1]))
		}
		if k := de.Key(); len(k) > 0 {
			return fmt.Sprintf("%s (line %d, column %d): %s", strings.Join(k, "."), row, col, msg)
		}
		return fmt.Sprintf("line %d, column %d: %s", row, col, msg)
	}
	return err.Error()
}

// typeMismatch matches go-toml's "cannot decode TOML string into struct
// field plan.Pipeline.MaxInFlight of type int" (and into other Go values).
var typeMismatch = regexp.MustCompile(`cannot decode TOML (\w+) into .* of type (\S+)`)

// goKind names what a Go type wants in TOML terms.
func goKind(t string) string {
	switch {
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean (true or false)"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	case strings.HasPrefix(t, "map[") || strings.Contains(t, "."):
		return "a table"
	}
	return t
}

// article prefixes a TOML kind ("string", "integer", ...) with a or an.
func article(kind string) string {
	switch kind {
	case "integer", "array", "inline":
		return "an " + kind
	case "localdate", "localtime", "localdatetime", "datetime":
		return "a date/time"
	}
	return "a " + kind
}

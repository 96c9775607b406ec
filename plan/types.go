package plan

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// ParseType parses an Arrow type name as config files write it:
//
//	bool
//	int8 int16 int32 int64 uint8 uint16 uint32 uint64
//	float32 float64 (also float, double)
//	string large_string (also utf8, large_utf8) binary large_binary
//	date32 date64
//	timestamp[s|ms|us|ns] timestamp[us, UTC] (unit, optional time zone)
//	duration[s|ms|us|ns]
//	dictionary[string] (int32 indices; value type any of the above)
//
// Names are case-insensitive. Errors wrap ErrConfig and quote the name.
func ParseType(s string) (arrow.DataType, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	if dt, ok := simpleTypes[name]; ok {
		return dt, nil
	}
	kind, arg, ok := strings.Cut(name, "[")
	if !ok || !strings.HasSuffix(arg, "]") {
		return nil, fmt.Errorf("%w: unknown type %q (want bool, int8..int64, uint8..uint64, float32, float64, string, large_string, binary, date32, date64, timestamp[unit], duration[unit] or dictionary[type])", ErrConfig, s)
	}
	arg = strings.TrimSuffix(arg, "]")
	switch strings.TrimSpace(kind) {
	case "timestamp":
		unit, tz, _ := strings.Cut(arg, ",")
		u, err := parseUnit(s, unit)
		if err != nil {
			return nil, err
		}
		// Time zone names keep their case (UTC, Europe/Paris).
		if i := strings.Index(s, ","); i >= 0 {
			tz = strings.TrimSuffix(strings.TrimSpace(s[i+1:]), "]")
		}
		return &arrow.TimestampType{Unit: u, TimeZone: strings.TrimSpace(tz)}, nil
	case "duration":
		u, err := parseUnit(s, arg)
		if err != nil {
			return nil, err
		}
		return &arrow.DurationType{Unit: u}, nil
	case "dictionary", "dict":
		v, err := ParseType(arg)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: dictionary value type: %v", ErrConfig, s, err)
		}
		return &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: v}, nil
	}
	return nil, fmt.Errorf("%w: unknown type %q", ErrConfig, s)
}

var simpleTypes = map[string]arrow.DataType{
	"bool": arrow.FixedWidthTypes.Boolean, "boolean": arrow.FixedWidthTypes.Boolean,
	"int8": arrow.PrimitiveTypes.Int8, "int16": arrow.PrimitiveTypes.Int16,
	"int32": arrow.PrimitiveTypes.Int32, "int64": arrow.PrimitiveTypes.Int64,
	"uint8": arrow.PrimitiveTypes.Uint8, "uint16": arrow.PrimitiveTypes.Uint16,
	"uint32": arrow.PrimitiveTypes.Uint32, "uint64": arrow.PrimitiveTypes.Uint64,
	"float32": arrow.PrimitiveTypes.Float32, "float": arrow.PrimitiveTypes.Float32,
	"float64": arrow.PrimitiveTypes.Float64, "double": arrow.PrimitiveTypes.Float64,
	"string": arrow.BinaryTypes.String, "utf8": arrow.BinaryTypes.String,
	"large_string": arrow.BinaryTypes.LargeString, "large_utf8": arrow.BinaryTypes.LargeString,
	"binary": arrow.BinaryTypes.Binary, "large_binary": arrow.BinaryTypes.LargeBinary,
	"date32": arrow.FixedWidthTypes.Date32, "date64": arrow.FixedWidthTypes.Date64,
}

func parseUnit(s, unit string) (arrow.TimeUnit, error) {
	switch strings.TrimSpace(unit) {
	case "s":
		return arrow.Second, nil
	case "ms":
		return arrow.Millisecond, nil
	case "us":
		return arrow.Microsecond, nil
	case "ns":
		return arrow.Nanosecond, nil
	}
	return 0, fmt.Errorf("%w: %q: time unit %q (want s, ms, us or ns)", ErrConfig, s, strings.TrimSpace(unit))
}

// parseField parses a field declaration "name: type", optionally
// followed by "not null" (fields are nullable by default).
func parseField(s string) (arrow.Field, error) {
	name, typ, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return arrow.Field{}, fmt.Errorf("%w: field %q: want \"name: type\"", ErrConfig, s)
	}
	typ = strings.TrimSpace(typ)
	nullable := true
	if t, found := strings.CutSuffix(strings.ToLower(typ), "not null"); found {
		typ, nullable = strings.TrimSpace(typ[:len(t)]), false
	}
	dt, err := ParseType(typ)
	if err != nil {
		return arrow.Field{}, fmt.Errorf("field %q: %w", name, err)
	}
	return arrow.Field{Name: name, Type: dt, Nullable: nullable}, nil
}

// Package textinfer holds what the text sources (csv, jsonl) share when
// they infer column types from strings: recognising dates and ISO 8601 /
// RFC 3339 timestamps and choosing their Arrow type.
package textinfer

import (
	"fmt"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// TimestampUnit is the unit of inferred timestamp columns, unless a value
// has more than 6 fractional second digits (then nanoseconds).
const TimestampUnit = arrow.Microsecond

// Temporal accumulates, over the non-null string values of one column,
// whether all of them are dates ("2006-01-02") and whether all of them
// are timestamps that arrow.TimestampFromStringInLocation parses (and not
// plain integers). The zero value is ready to use.
type Temporal struct {
	seen            bool
	date, ts        bool
	zoned, zoneless bool // some timestamps with / without a zone offset
	frac            int  // most fractional second digits
}

// Add takes one non-null value into account.
func (t *Temporal) Add(s string) {
	if !t.seen {
		t.seen, t.date, t.ts = true, true, true
	}
	if t.date {
		if _, err := time.Parse(time.DateOnly, s); err != nil || len(s) != 10 {
			t.date = false
		}
	}
	if t.ts {
		_, zone, err := arrow.TimestampFromStringInLocation(s, arrow.Nanosecond, time.UTC)
		if err != nil || IsInteger(s) {
			t.ts = false
			return
		}
		if zone {
			t.zoned = true
		} else {
			t.zoneless = true
		}
		t.frac = max(t.frac, fracDigits(s))
	}
}

// Type returns date32 when every value was a date, else a timestamp type
// when every value was a timestamp and they either all had a zone offset
// (timestamp in UTC) or none had (timestamp without zone); unit
// TimestampUnit, or nanoseconds when a value has more than 6 fractional
// digits. ok is false otherwise, and when no value was added.
func (t *Temporal) Type() (dt arrow.DataType, ok bool) {
	switch {
	case !t.seen:
		return nil, false
	case t.date:
		return arrow.FixedWidthTypes.Date32, true
	case !t.ts || t.zoned && t.zoneless:
		return nil, false
	}
	unit := TimestampUnit
	if t.frac > 6 {
		unit = arrow.Nanosecond
	}
	tz := ""
	if t.zoned {
		tz = "UTC"
	}
	return &arrow.TimestampType{Unit: unit, TimeZone: tz}, true
}

// IsInteger reports whether v parses as an int64.
func IsInteger(v string) bool {
	_, err := strconv.ParseInt(v, 10, 64)
	return err == nil
}

// fracDigits counts the digits after the decimal point of the seconds of
// an ISO timestamp ("2006-01-02T15:04:05.123Z" has 3).
func fracDigits(v string) int {
	if len(v) <= 20 || v[19] != '.' {
		return 0
	}
	n := 0
	for _, r := range v[20:] {
		if r < '0' || r > '9' {
			break
		}
		n++
	}
	return n
}

// CheckSchema returns an error wrapping unsupported (the package's
// ErrUnsupportedType) that names the first column of schema, with its
// index and type, whose type ok refuses; nil if ok takes them all.
func CheckSchema(schema *arrow.Schema, ok func(arrow.DataType) bool, unsupported error) error {
	for i, f := range schema.Fields() {
		if !ok(f.Type) {
			return fmt.Errorf("%w: column %q (index %d) has type %s", unsupported, f.Name, i, f.Type)
		}
	}
	return nil
}

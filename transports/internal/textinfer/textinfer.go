// Package textinfer holds what the text sources (csv, jsonl) share about
// dates and times in text: recognising dates, ISO 8601 / RFC 3339
// timestamps and the other accepted layouts when they infer column types
// (Temporal, Layouts), and parsing the same forms into a declared date or
// timestamp column (TimeParser), so that a declared type reads what
// inference reads.
package textinfer

import (
	"fmt"
	"strconv"
	"strings"
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

// Layout is a date or time format beyond ISO 8601 / RFC 3339 that the
// text sources read, in inference and in columns of a declared temporal
// type alike.
type Layout struct {
	Format string // time.Parse layout
	Date   bool   // date only: an inferred column becomes date32
}

// Layouts are tried in order after the ISO forms (the csv package doc
// lists them). They are the one list of accepted layouts: CSV inference
// picks the first that every value of a column parses, and TimeParser
// accepts any of them.
var Layouts = []Layout{
	{Format: "2006/01/02 15:04:05"},
	{Format: "2006/01/02 15:04"},
	{Format: "2006/01/02", Date: true},
	{Format: "Jan 2 2006", Date: true},
	{Format: "Jan 2, 2006", Date: true},
	{Format: "2 Jan 2006", Date: true},
	{Format: "January 2 2006", Date: true},
	{Format: "January 2, 2006", Date: true},
}

// IsTemporal reports whether TimeParser parses values of type dt: date32,
// date64 and timestamps with a valid time zone.
func IsTemporal(dt arrow.DataType) bool {
	switch dt := dt.(type) {
	case *arrow.Date32Type, *arrow.Date64Type:
		return true
	case *arrow.TimestampType:
		_, err := dt.GetZone()
		return err == nil
	}
	return false
}

// TimeParser parses the text of a value of one declared temporal column
// (date32, date64, timestamp) as the text sources infer it, so that a
// column declared with a type reads every value that inference reads:
//
//   - an integer is the raw value (days for date32, ms for date64, units
//     of the timestamp), as arrow-go takes it and as a cast from int64
//     does;
//   - ISO 8601 / RFC 3339 dates and timestamps (arrow.TimestampFromStringInLocation:
//     "2006-01-02", "2006-01-02T15:04:05.999", "2006-01-02 15:04:05Z",
//     "...+02:00"): a value with a zone offset is that instant, one
//     without is read as UTC whatever the type's time zone (as arrow-go
//     reads it, and as a cast of an inferred zoneless timestamp keeps its
//     value);
//   - then Layouts, as UTC.
//
// A timestamp read into a date column is its UTC day (as a cast from a
// timestamp). A TimeParser remembers the layout that matched last and
// tries it first. It is not safe for concurrent use.
type TimeParser struct {
	dt   arrow.DataType
	unit arrow.TimeUnit
	last int // index in Layouts of the last match, or -1
}

// NewTimeParser returns a parser for values of dt; the error names the
// type when IsTemporal(dt) is false or its time zone is unknown.
func NewTimeParser(dt arrow.DataType) (*TimeParser, error) {
	p := &TimeParser{dt: dt, unit: arrow.Millisecond, last: -1}
	switch t := dt.(type) {
	case *arrow.Date32Type, *arrow.Date64Type:
	case *arrow.TimestampType:
		if _, err := t.GetZone(); err != nil {
			return nil, fmt.Errorf("type %s: %w", dt, err)
		}
		p.unit = t.Unit
	default:
		return nil, fmt.Errorf("type %s is not a date or timestamp", dt)
	}
	return p, nil
}

// WithHint makes p try Layouts[i] first (an inferred column's layout).
func (p *TimeParser) WithHint(i int) *TimeParser {
	p.last = i
	return p
}

// Parse returns the value of s in p's type: days since the epoch
// (date32, checked to fit in 32 bits), ms since the epoch (date64) or
// units of the timestamp.
func (p *TimeParser) Parse(s string) (int64, error) {
	v, err := p.parse(s)
	if _, ok := p.dt.(*arrow.Date32Type); ok && err == nil && v != int64(int32(v)) {
		return 0, fmt.Errorf("%q: %d days is out of the range of date32", s, v)
	}
	return v, err
}

func (p *TimeParser) parse(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	if p.last >= 0 {
		if t, err := time.Parse(Layouts[p.last].Format, s); err == nil {
			return p.value(t)
		}
	}
	if _, ok := p.dt.(*arrow.TimestampType); ok {
		if v, _, err := arrow.TimestampFromStringInLocation(s, p.unit, time.UTC); err == nil {
			return int64(v), nil
		}
	} else if len(s) == 10 {
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return p.value(t)
		}
	} else if v, _, err := arrow.TimestampFromStringInLocation(s, arrow.Nanosecond, time.UTC); err == nil {
		return p.value(time.Unix(0, int64(v)).UTC())
	}
	for i, l := range Layouts {
		if i == p.last {
			continue
		}
		if t, err := time.Parse(l.Format, s); err == nil {
			p.last = i
			return p.value(t)
		}
	}
	return 0, fmt.Errorf("%q is not a %s: want an ISO 8601 / RFC 3339 %s (2006-01-02, 2006-01-02T15:04:05Z), an integer or one of the layouts %s",
		s, p.kind(), p.kind(), layoutList())
}

func (p *TimeParser) kind() string {
	if _, ok := p.dt.(*arrow.TimestampType); ok {
		return "timestamp"
	}
	return "date"
}

func (p *TimeParser) value(t time.Time) (int64, error) {
	switch p.dt.(type) {
	case *arrow.Date32Type:
		return int64(arrow.Date32FromTime(t)), nil
	case *arrow.Date64Type:
		return int64(arrow.Date64FromTime(t)), nil
	}
	ts, err := arrow.TimestampFromTime(t, p.unit)
	return int64(ts), err
}

func layoutList() string {
	var b strings.Builder
	for i, l := range Layouts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(l.Format))
	}
	return b.String()
}

package jsonl

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// inferredTimestampUnit is the unit of timestamp columns the inference
// finds, unless a value has more than 6 fractional digits (then
// nanoseconds).
const inferredTimestampUnit = arrow.Microsecond

// keyInfer accumulates what the values of one key can be.
type keyInfer struct {
	name                string
	seen                int
	bools, ints, floats int
	strs, others        int // others: objects and arrays
	strDate, strTS      bool
	tsZone, tsNaive     bool
	frac                int
}

func (k *keyInfer) add(raw []byte) error {
	switch raw[0] {
	case 'n':
		return nil
	case 't', 'f':
		k.bools++
	case '{', '[':
		k.others++
	case '"':
		s, err := unquote(raw)
		if err != nil {
			return err
		}
		if k.strs == 0 {
			k.strDate, k.strTS = true, true
		}
		k.strs++
		if k.strDate {
			if _, err := time.Parse(time.DateOnly, s); err != nil || len(s) != 10 {
				k.strDate = false
			}
		}
		if k.strTS {
			if _, zone, err := arrow.TimestampFromStringInLocation(s, arrow.Nanosecond, time.UTC); err != nil || isInteger(s) {
				k.strTS = false
			} else {
				if zone {
					k.tsZone = true
				} else {
					k.tsNaive = true
				}
				k.frac = max(k.frac, fracDigits(s))
			}
		}
	default:
		if bytes.ContainsAny(raw, ".eE") || !isInteger(string(raw)) {
			k.floats++
		} else {
			k.ints++
		}
	}
	k.seen++
	return nil
}

// unquote returns the value of the JSON string raw (validated JSON).
// It uses encoding/json: goccy/go-json's Unmarshal does invalid pointer
// arithmetic on some escapes (a lone surrogate "\ud800"; -race reports
// it as a checkptr fatal error).
func unquote(raw []byte) (string, error) {
	if bytes.IndexByte(raw, '\\') < 0 && len(raw) >= 2 {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	err := stdjson.Unmarshal(raw, &s)
	return s, err
}

func isInteger(v string) bool {
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

// result returns the key's column type; see the package doc.
func (k *keyInfer) result() arrow.DataType {
	switch {
	case k.seen == 0:
		return arrow.BinaryTypes.String
	case k.bools == k.seen:
		return arrow.FixedWidthTypes.Boolean
	case k.ints == k.seen:
		return arrow.PrimitiveTypes.Int64
	case k.ints+k.floats == k.seen:
		return arrow.PrimitiveTypes.Float64
	case k.strs == k.seen && k.strDate:
		return arrow.FixedWidthTypes.Date32
	case k.strs == k.seen && k.strTS && !(k.tsZone && k.tsNaive):
		unit := inferredTimestampUnit
		if k.frac > 6 {
			unit = arrow.Nanosecond
		}
		tz := ""
		if k.tsZone {
			tz = "UTC"
		}
		return &arrow.TimestampType{Unit: unit, TimeZone: tz}
	}
	return arrow.BinaryTypes.String
}

// isText reports whether a column of type dt holds JSON text for values
// that are not strings (utf8 and large_utf8 columns).
func isText(dt arrow.DataType) bool {
	return dt.ID() == arrow.STRING || dt.ID() == arrow.LARGE_STRING
}

// supported reports whether the Source can read and the Sink can write
// columns of type dt.
func supported(dt arrow.DataType) bool {
	switch dt := dt.(type) {
	case *arrow.NullType, *arrow.BooleanType,
		*arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type,
		*arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type, *arrow.Uint64Type,
		*arrow.Float16Type, *arrow.Float32Type, *arrow.Float64Type,
		*arrow.StringType, *arrow.LargeStringType, *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.FixedSizeBinaryType,
		*arrow.Date32Type, *arrow.Date64Type, *arrow.Time32Type, *arrow.Time64Type,
		*arrow.Decimal128Type, *arrow.Decimal256Type:
		return true
	case *arrow.TimestampType:
		_, err := dt.GetZone()
		return err == nil
	case *arrow.ListType:
		return supported(dt.Elem())
	case *arrow.LargeListType:
		return supported(dt.Elem())
	case *arrow.FixedSizeListType:
		return supported(dt.Elem())
	case *arrow.StructType:
		for _, f := range dt.Fields() {
			if !supported(f.Type) {
				return false
			}
		}
		return true
	}
	return false
}

func checkSupported(schema *arrow.Schema) error {
	for i, f := range schema.Fields() {
		if !supported(f.Type) {
			return fmt.Errorf("%w: column %q (index %d) has type %s", ErrUnsupportedType, f.Name, i, f.Type)
		}
	}
	return nil
}

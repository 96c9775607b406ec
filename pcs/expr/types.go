package expr

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// Type classes of the language.

func isInt(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return false
}

func isFloat(dt arrow.DataType) bool {
	return dt.ID() == arrow.FLOAT32 || dt.ID() == arrow.FLOAT64
}

func isNumeric(dt arrow.DataType) bool { return isInt(dt) || isFloat(dt) }

func isString(dt arrow.DataType) bool {
	return dt.ID() == arrow.STRING || dt.ID() == arrow.LARGE_STRING
}

func isNull(dt arrow.DataType) bool { return dt.ID() == arrow.NULL }
func isBool(dt arrow.DataType) bool { return dt.ID() == arrow.BOOL }
func isTS(dt arrow.DataType) bool   { return dt.ID() == arrow.TIMESTAMP }
func isDate(dt arrow.DataType) bool { return dt.ID() == arrow.DATE32 }
func isDur(dt arrow.DataType) bool  { return dt.ID() == arrow.DURATION }

// supported reports whether a column of type dt can be used.
func supported(dt arrow.DataType) bool {
	return isNull(dt) || isBool(dt) || isNumeric(dt) || isString(dt) || isTS(dt) || isDate(dt) || isDur(dt)
}

var (
	tInt64   = arrow.PrimitiveTypes.Int64
	tFloat64 = arrow.PrimitiveTypes.Float64
	tBool    = arrow.FixedWidthTypes.Boolean
	tUTF8    = arrow.BinaryTypes.String
	tLarge   = arrow.BinaryTypes.LargeString
	tNull    = arrow.Null
)

// finer returns the finer of two time units.
func finer(a, b arrow.TimeUnit) arrow.TimeUnit { return max(a, b) }

func tsType(dt arrow.DataType) *arrow.TimestampType { return dt.(*arrow.TimestampType) }

// common returns the type two operands are converted to before they are
// compared, unified as branches of if/case/coalesce, or matched by in.
// Integers of different types meet at int64, numbers with a float at
// float64, utf8 and large_utf8 at large_utf8, timestamps at the finer
// unit (and the first time zone; zone-naive timestamps are taken as UTC),
// date32 and timestamp at the timestamp, durations at the finer unit.
func common(a, b arrow.DataType) (arrow.DataType, bool) {
	switch {
	case isNull(a):
		return b, true
	case isNull(b):
		return a, true
	case arrow.TypeEqual(a, b):
		return a, true
	case isInt(a) && isInt(b):
		return tInt64, true
	case isNumeric(a) && isNumeric(b):
		return tFloat64, true
	case isString(a) && isString(b):
		return tLarge, true
	case isTS(a) && isTS(b):
		ta, tb := tsType(a), tsType(b)
		tz := ta.TimeZone
		if tz == "" {
			tz = tb.TimeZone
		}
		return &arrow.TimestampType{Unit: finer(ta.Unit, tb.Unit), TimeZone: tz}, true
	case isTS(a) && isDate(b):
		return a, true
	case isDate(a) && isTS(b):
		return b, true
	case isDur(a) && isDur(b):
		return &arrow.DurationType{Unit: finer(a.(*arrow.DurationType).Unit, b.(*arrow.DurationType).Unit)}, true
	}
	return nil, false
}

// castTypes maps the type names of cast(x as name) to Arrow types.
var castTypes = map[string]arrow.DataType{
	"bool":         tBool,
	"boolean":      tBool,
	"int64":        tInt64,
	"int":          tInt64,
	"bigint":       tInt64,
	"float64":      tFloat64,
	"float":        tFloat64,
	"double":       tFloat64,
	"string":       tUTF8,
	"utf8":         tUTF8,
	"large_string": tLarge,
	"large_utf8":   tLarge,
	"timestamp":    &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
	"timestamp_s":  &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"},
	"timestamp_ms": &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"},
	"timestamp_us": &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
	"timestamp_ns": &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"},
	"date32":       arrow.FixedWidthTypes.Date32,
	"date":         arrow.FixedWidthTypes.Date32,
}

// castTypeNames lists the accepted names for error messages.
func castTypeNames() string {
	return "bool, int64, float64, string, large_string, timestamp, timestamp_s, timestamp_ms, timestamp_us, timestamp_ns, date32"
}

// castScalar casts a constant with Arrow's safe cast. It runs at compile
// time only, on the Go allocator.
func castScalar(sc scalar.Scalar, to arrow.DataType) (scalar.Scalar, error) {
	if !sc.IsValid() {
		return scalar.MakeNullScalar(to), nil
	}
	if arrow.TypeEqual(sc.DataType(), to) {
		return sc, nil
	}
	mem := memory.DefaultAllocator
	arr, err := scalar.MakeArrayFromScalar(sc, 1, mem)
	if err != nil {
		return nil, err
	}
	defer arr.Release()
	out, err := compute.CastArray(context.Background(), arr, compute.SafeCastOptions(to))
	if err != nil {
		return nil, err
	}
	defer out.Release()
	return scalar.GetScalar(out, 0)
}

// convertExact converts a constant to type to when no information is lost
// (the value casts there and back unchanged).
func convertExact(sc scalar.Scalar, to arrow.DataType) (scalar.Scalar, bool) {
	if !sc.IsValid() {
		return scalar.MakeNullScalar(to), true
	}
	if arrow.TypeEqual(sc.DataType(), to) {
		return sc, true
	}
	if _, ok := common(sc.DataType(), to); !ok {
		return nil, false
	}
	out, err := castScalar(sc, to)
	if err != nil {
		return nil, false
	}
	back, err := castScalar(out, sc.DataType())
	if err != nil || !scalar.Equals(back, sc) {
		return nil, false
	}
	return out, true
}

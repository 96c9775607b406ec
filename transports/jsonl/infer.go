package jsonl

import (
	"bytes"
	stdjson "encoding/json"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/transports/internal/textinfer"
)

// keyInfer accumulates what the values of one key can be.
type keyInfer struct {
	name                string
	seen                int
	bools, ints, floats int
	strs, others        int                // others: objects and arrays
	temporal            textinfer.Temporal // over the string values
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
		k.strs++
		k.temporal.Add(s)
	default:
		if bytes.ContainsAny(raw, ".eE") || !textinfer.IsInteger(string(raw)) {
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
	case k.strs == k.seen:
		if dt, ok := k.temporal.Type(); ok {
			return dt
		}
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

// checkSupported returns ErrUnsupportedType (wrapped, naming the column)
// for the first column of schema that the package cannot read or write.
func checkSupported(schema *arrow.Schema) error {
	return textinfer.CheckSchema(schema, supported, ErrUnsupportedType)
}

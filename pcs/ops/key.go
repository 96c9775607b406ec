package ops

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Key tuples are encoded into one byte string per row, the key of a Go
// map. Each column contributes a tag byte and its value:
//
//   - integers of any width and signedness: tagInt and the value as a
//     big-endian int64, or tagUint and the uint64 when it exceeds
//     math.MaxInt64, so that int32 7 and uint64 7 encode alike (keys match
//     by value, not by type);
//   - string and large_string: tagStr, the length (uvarint) and the bytes.
//
// The encoding is injective per tuple of kinds, so equal encodings mean
// equal tuples. A null in any column makes the whole tuple null: it never
// matches and is never a duplicate (SQL semantics).
const (
	tagInt  byte = 1
	tagUint byte = 2
	tagStr  byte = 3
)

// keyKind is the family of a key column's type: keys match across types
// of the same family only.
type keyKind int

const (
	kindNone keyKind = iota
	kindInt
	kindStr
)

func (k keyKind) String() string {
	switch k {
	case kindInt:
		return "integer"
	case kindStr:
		return "string"
	}
	return "unsupported"
}

// kindOf returns the key family of dt, kindNone if dt cannot be a key.
func kindOf(dt arrow.DataType) keyKind {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return kindInt
	case arrow.STRING, arrow.LARGE_STRING:
		return kindStr
	}
	return kindNone
}

// keyCol appends the encoding of row i to buf; ok is false for a null.
type keyCol func(buf []byte, i int) (out []byte, ok bool)

func appendInt(buf []byte, v int64) []byte {
	buf = append(buf, tagInt)
	return binary.BigEndian.AppendUint64(buf, uint64(v))
}

func appendUint(buf []byte, v uint64) []byte {
	if v <= math.MaxInt64 {
		return appendInt(buf, int64(v))
	}
	buf = append(buf, tagUint)
	return binary.BigEndian.AppendUint64(buf, v)
}

func appendStr(buf []byte, s string) []byte {
	buf = append(buf, tagStr)
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

type signed interface {
	~int8 | ~int16 | ~int32 | ~int64
}
type unsigned interface {
	~uint8 | ~uint16 | ~uint32 | ~uint64
}

type valuer[T any] interface {
	arrow.Array
	Value(int) T
}

func signedCol[T signed](a valuer[T]) keyCol {
	return func(buf []byte, i int) ([]byte, bool) {
		if a.IsNull(i) {
			return buf, false
		}
		return appendInt(buf, int64(a.Value(i))), true
	}
}

func unsignedCol[T unsigned](a valuer[T]) keyCol {
	return func(buf []byte, i int) ([]byte, bool) {
		if a.IsNull(i) {
			return buf, false
		}
		return appendUint(buf, uint64(a.Value(i))), true
	}
}

func strCol(a valuer[string]) keyCol {
	return func(buf []byte, i int) ([]byte, bool) {
		if a.IsNull(i) {
			return buf, false
		}
		return appendStr(buf, a.Value(i)), true
	}
}

// newKeyCol returns the encoder of a key column; it works on sliced
// arrays (Value and IsNull honour the offset).
func newKeyCol(a arrow.Array) (keyCol, error) {
	switch a := a.(type) {
	case *array.Int8:
		return signedCol[int8](a), nil
	case *array.Int16:
		return signedCol[int16](a), nil
	case *array.Int32:
		return signedCol[int32](a), nil
	case *array.Int64:
		return signedCol[int64](a), nil
	case *array.Uint8:
		return unsignedCol[uint8](a), nil
	case *array.Uint16:
		return unsignedCol[uint16](a), nil
	case *array.Uint32:
		return unsignedCol[uint32](a), nil
	case *array.Uint64:
		return unsignedCol[uint64](a), nil
	case *array.String:
		return strCol(a), nil
	case *array.LargeString:
		return strCol(a), nil
	}
	return nil, fmt.Errorf("key column of type %s: keys must be string, large_string or integer", a.DataType())
}

// keyCols returns the encoders of arrs.
func keyCols(arrs []arrow.Array) ([]keyCol, error) {
	out := make([]keyCol, len(arrs))
	for i, a := range arrs {
		kc, err := newKeyCol(a)
		if err != nil {
			return nil, err
		}
		out[i] = kc
	}
	return out, nil
}

// encodeKey encodes row i of cols into buf[:0]; ok is false if any key
// column is null there.
func encodeKey(cols []keyCol, buf []byte, i int) ([]byte, bool) {
	buf = buf[:0]
	for _, kc := range cols {
		var ok bool
		if buf, ok = kc(buf, i); !ok {
			return buf, false
		}
	}
	return buf, true
}

// decodeKey renders an encoded key tuple for people: the values joined
// by "|", integers in decimal.
func decodeKey(k string) string {
	var parts []string
	b := []byte(k)
	for len(b) > 0 {
		tag := b[0]
		b = b[1:]
		switch tag {
		case tagInt, tagUint:
			if len(b) < 8 {
				return k
			}
			v := binary.BigEndian.Uint64(b)
			if tag == tagInt {
				parts = append(parts, strconv.FormatInt(int64(v), 10))
			} else {
				parts = append(parts, strconv.FormatUint(v, 10))
			}
			b = b[8:]
		case tagStr:
			n, w := binary.Uvarint(b)
			if w <= 0 || uint64(len(b)-w) < n {
				return k
			}
			parts = append(parts, string(b[w:w+int(n)]))
			b = b[w+int(n):]
		default:
			return k
		}
	}
	return strings.Join(parts, "|")
}

package natsjs

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Fingerprint returns the stable fingerprint of a schema that PCS writes
// in the Pcs-Schema header: the lowercase hex of the first 16 bytes of
// the SHA-256 of CanonicalSchema(s) (32 characters).
//
// Two schemas have the same fingerprint when they have the same fields in
// the same order with the same names, types (including type parameters:
// time unit, time zone, precision, list element fields, dictionary index
// type, ...) and nullability, recursively. Schema and field metadata and
// the endianness are not part of it. A nil schema has the fingerprint of
// an empty schema.
func Fingerprint(s *arrow.Schema) string {
	sum := sha256.Sum256([]byte(CanonicalSchema(s)))
	return hex.EncodeToString(sum[:16])
}

// CanonicalSchema renders the schema in the canonical form hashed by
// Fingerprint, so that producers in other languages can compute the same
// fingerprint:
//
//	schema  = "schema{" [field {", " field}] "}"
//	field   = quoted-name " " type (" null" | " not null")
//	type    = "struct{" fields "}" | "list{" field "}" | "large_list{" field "}"
//	        | "list_view{" field "}" | "large_list_view{" field "}"
//	        | "fixed_size_list[" n "]{" field "}"
//	        | "map{" key-field ", " item-field "}" ["sorted"]
//	        | "sparse_union{" code ":" field ... "}" | "dense_union{" ... "}"
//	        | "dictionary<" index-type ", " value-type [", ordered"] ">"
//	        | "run_end_encoded<" run-ends-type ", " value-type [" null" | " not null"] ">"
//	        | "extension<" name ", " quoted-serialized ", " storage-type ">"
//	        | leaf
//
// where quoted-name is the Go-quoted (strconv.Quote) field name and leaf
// is Arrow's own type string (DataType.String()), e.g. "int64", "utf8",
// "timestamp[ms, tz=UTC]", "decimal(10, 2)", "fixed_size_binary[16]".
func CanonicalSchema(s *arrow.Schema) string {
	var b strings.Builder
	b.WriteString("schema{")
	if s != nil {
		writeFields(&b, s.Fields())
	}
	b.WriteString("}")
	return b.String()
}

func writeFields(b *strings.Builder, fs []arrow.Field) {
	for i, f := range fs {
		if i > 0 {
			b.WriteString(", ")
		}
		writeField(b, f)
	}
}

func writeField(b *strings.Builder, f arrow.Field) {
	b.WriteString(strconv.Quote(f.Name))
	b.WriteByte(' ')
	writeType(b, f.Type)
	if f.Nullable {
		b.WriteString(" null")
	} else {
		b.WriteString(" not null")
	}
}

func writeType(b *strings.Builder, dt arrow.DataType) {
	switch t := dt.(type) {
	case nil:
		b.WriteString("<nil>")
	case *arrow.StructType:
		b.WriteString("struct{")
		writeFields(b, t.Fields())
		b.WriteString("}")
	case *arrow.MapType:
		b.WriteString("map{")
		writeField(b, t.KeyField())
		b.WriteString(", ")
		writeField(b, t.ItemField())
		b.WriteString("}")
		if t.KeysSorted {
			b.WriteString("sorted")
		}
	case *arrow.ListType:
		b.WriteString("list{")
		writeField(b, t.ElemField())
		b.WriteString("}")
	case *arrow.LargeListType:
		b.WriteString("large_list{")
		writeField(b, t.ElemField())
		b.WriteString("}")
	case *arrow.ListViewType:
		b.WriteString("list_view{")
		writeField(b, t.ElemField())
		b.WriteString("}")
	case *arrow.LargeListViewType:
		b.WriteString("large_list_view{")
		writeField(b, t.ElemField())
		b.WriteString("}")
	case *arrow.FixedSizeListType:
		b.WriteString("fixed_size_list[")
		b.WriteString(strconv.Itoa(int(t.Len())))
		b.WriteString("]{")
		writeField(b, t.ElemField())
		b.WriteString("}")
	case arrow.UnionType:
		if t.Mode() == arrow.DenseMode {
			b.WriteString("dense_union{")
		} else {
			b.WriteString("sparse_union{")
		}
		codes := t.TypeCodes()
		for i, f := range t.Fields() {
			if i > 0 {
				b.WriteString(", ")
			}
			if i < len(codes) {
				b.WriteString(strconv.Itoa(int(codes[i])))
			}
			b.WriteByte(':')
			writeField(b, f)
		}
		b.WriteString("}")
	case *arrow.DictionaryType:
		b.WriteString("dictionary<")
		writeType(b, t.IndexType)
		b.WriteString(", ")
		writeType(b, t.ValueType)
		if t.Ordered {
			b.WriteString(", ordered")
		}
		b.WriteString(">")
	case *arrow.RunEndEncodedType:
		b.WriteString("run_end_encoded<")
		writeType(b, t.RunEnds())
		b.WriteString(", ")
		writeType(b, t.Encoded())
		if t.ValueNullable {
			b.WriteString(" null")
		} else {
			b.WriteString(" not null")
		}
		b.WriteString(">")
	case arrow.ExtensionType:
		b.WriteString("extension<")
		b.WriteString(t.ExtensionName())
		b.WriteString(", ")
		b.WriteString(strconv.Quote(t.Serialize()))
		b.WriteString(", ")
		writeType(b, t.StorageType())
		b.WriteString(">")
	default:
		b.WriteString(dt.String())
	}
}

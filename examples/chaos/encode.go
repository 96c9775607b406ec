package main

import (
	"bytes"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// encodeGood is a valid partition body of 3 rows with unexpected ids
// (they are never published as such: its copies are broken or carry bad
// headers).
func encodeGood() []byte { return encodeWith("row_id", false) }

// encodeWith encodes 3 rows whose first column is named col, as strings
// when asStrings (a wrong type), with v beside it.
func encodeWith(col string, asStrings bool) []byte {
	mem := memory.DefaultAllocator
	var t arrow.DataType = arrow.PrimitiveTypes.Int64
	if asStrings {
		t = arrow.BinaryTypes.String
	}
	sc := arrow.NewSchema([]arrow.Field{{Name: col, Type: t}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rb := array.NewRecordBuilder(mem, sc)
	defer rb.Release()
	for i := range 3 {
		if asStrings {
			rb.Field(0).(*array.StringBuilder).Append("x")
		} else {
			rb.Field(0).(*array.Int64Builder).Append(int64(-1 - i))
		}
		rb.Field(1).(*array.Int64Builder).Append(int64(i))
	}
	rec := rb.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(sc), ipc.WithAllocator(mem))
	_ = w.Write(rec)
	_ = w.Close()
	return buf.Bytes()
}

// corrupt flips bytes in the middle of an IPC stream.
func corrupt(b []byte) []byte {
	c := bytes.Clone(b)
	for i := len(c) / 3; i < len(c)/3+16 && i < len(c); i++ {
		c[i] ^= 0xff
	}
	return c
}

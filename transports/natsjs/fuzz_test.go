package natsjs_test

import (
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/natsjs"
)

// FuzzDecode checks that Decode never panics and never leaks on
// arbitrary bytes, that every failure wraps ErrCorrupt, and that every
// value of a batch it accepts can be read.
func FuzzDecode(f *testing.F) {
	for _, comp := range []natsjs.Compression{natsjs.CompressionNone, natsjs.CompressionLZ4, natsjs.CompressionZstd} {
		opts := natsjs.EncodeOptions{Compression: comp, CompressMinBytes: -1}
		for _, build := range []func() []arrow.RecordBatch{
			func() []arrow.RecordBatch { return []arrow.RecordBatch{flights(memory.DefaultAllocator, 0, 40)} },
			func() []arrow.RecordBatch {
				return []arrow.RecordBatch{kitchen(f, memory.DefaultAllocator), kitchen(f, memory.DefaultAllocator)}
			},
		} {
			recs := build()
			body, err := natsjs.Encode(recs, opts)
			release(recs)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(body)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		recs, err := natsjs.Decode(body, mem)
		if err != nil {
			if !errors.Is(err, natsjs.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			mem.AssertSize(t, 0)
			return
		}
		for _, rec := range recs {
			for _, col := range rec.Columns() {
				// A null-type column's length costs no bytes: read the
				// first 64k values and the last.
				for i := 0; i < col.Len() && i < 1<<16; i++ {
					_ = col.ValueStr(i)
				}
				if n := col.Len(); n > 0 {
					_ = col.ValueStr(n - 1)
				}
			}
			rec.Release()
		}
		mem.AssertSize(t, 0)
	})
}

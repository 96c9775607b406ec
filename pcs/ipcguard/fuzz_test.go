package ipcguard_test

import (
	"errors"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/ipcguard"
)

// countingAllocator counts the bytes allocated through it.
type countingAllocator struct {
	memory.Allocator
	total atomic.Int64
}

func (a *countingAllocator) Allocate(n int) []byte {
	a.total.Add(int64(max(n, 0)))
	return a.Allocator.Allocate(n)
}

func (a *countingAllocator) Reallocate(n int, b []byte) []byte {
	a.total.Add(int64(max(n-len(b), 0)))
	return a.Allocator.Reallocate(n, b)
}

// maxFuzzInput bounds the inputs FuzzCheck decodes.
const maxFuzzInput = 32 << 10

// fuzzLimit is the LimitAllocator limit of FuzzCheck's decodes. Decoders
// allow MaxExpansion times the input; the fuzzer allows less, for speed
// (a compressed buffer claiming 1 GiB would be allocated and zeroed
// before it fails to decompress): inputs claiming more are refused, which
// exercises the refusal path instead.
func fuzzLimit(n int) int64 { return 1<<20 + 64*int64(n) }

// heapBound is how many bytes of Go heap arrow-go may allocate, beyond
// what goes through its allocator, to decode an input of n bytes that
// passed a check: a linear bound (fields, metadata and copies of the
// input), far below the quadratic or unbounded amounts the checks are
// there to prevent.
func heapBound(n int) uint64 { return 32<<20 + 1024*uint64(n) }

// FuzzCheck checks that CheckFile and CheckStream never panic and fail
// only with ErrCorrupt, and that what passes a check is safe for
// arrow-go v18.8.0 as the package documentation says: reading it with a
// LimitAllocator (and recovering panics) either succeeds or fails, frees
// everything after Finish, and allocates a bounded amount of Go heap
// besides.
func FuzzCheck(f *testing.F) {
	for _, c := range validCases(f) {
		f.Add(writeStream(f, c.schema, c.recs, c.opts...))
		if !c.stream {
			f.Add(writeFile(f, c.schema, c.recs, c.opts...))
		}
	}
	for _, fm := range formats {
		for _, c := range corruptions[:10] {
			f.Add(c.build(f, fm))
		}
	}
	f.Add([]byte("ARROW1\x00\x00ARROW1"))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []struct {
			name  string
			check func([]byte) (ipcguard.Info, error)
			read  []func([]byte, memory.Allocator) (int, error)
		}{
			{"stream", ipcguard.CheckStream, []func([]byte, memory.Allocator) (int, error){readStream}},
			{"file", ipcguard.CheckFile, []func([]byte, memory.Allocator) (int, error){readFile, readMapped}},
		} {
			info, err := format.check(data)
			if err != nil {
				if !errors.Is(err, ipcguard.ErrCorrupt) {
					t.Fatalf("%s: error does not wrap ErrCorrupt: %v", format.name, err)
				}
				continue
			}
			if info.DictionaryBatches < 0 || info.RecordBatches < 0 {
				t.Fatalf("%s: %+v", format.name, info)
			}
			if len(data) > maxFuzzInput {
				continue
			}
			for i, read := range format.read {
				if i == 1 && info.Dictionaries {
					continue // the mapped reader cannot read dictionaries
				}
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				counted := &countingAllocator{Allocator: mem}
				a := ipcguard.NewLimitAllocator(counted, fuzzLimit(len(data)))
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				_, rerr := read(data, a)
				a.Finish(rerr != nil)
				runtime.ReadMemStats(&after)
				if n := mem.CurrentAlloc(); n != 0 {
					t.Fatalf("%s reader %d: %d bytes still allocated (read error: %v)", format.name, i, n, rerr)
				}
				heap := after.TotalAlloc - before.TotalAlloc - min(uint64(counted.total.Load()), after.TotalAlloc-before.TotalAlloc)
				if heap > heapBound(len(data)) {
					t.Fatalf("%s reader %d: %d bytes of Go heap for a %d-byte input that passed the check (read error: %v)",
						format.name, i, heap, len(data), rerr)
				}
			}
		}
	})
}

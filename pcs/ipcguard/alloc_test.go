package ipcguard_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/ipcguard"
)

// refused runs fn and returns the error it panicked with (nil if none).
func refused(fn func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = p.(error)
		}
	}()
	fn()
	return nil
}

func TestLimitAllocatorLimit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	a := ipcguard.NewLimitAllocator(mem, 100)
	b := a.Allocate(60)
	if len(b) != 60 || a.Held() != 60 {
		t.Fatalf("Allocate(60): len %d, Held %d", len(b), a.Held())
	}
	if err := refused(func() { a.Allocate(41) }); !errors.Is(err, ipcguard.ErrLimit) {
		t.Errorf("Allocate(41) with 60 of 100 held: %v, want ErrLimit", err)
	}
	if err := refused(func() { a.Allocate(-1) }); !errors.Is(err, ipcguard.ErrLimit) {
		t.Errorf("Allocate(-1): %v, want ErrLimit", err)
	}
	if err := refused(func() { b = a.Reallocate(101, b) }); !errors.Is(err, ipcguard.ErrLimit) {
		t.Errorf("Reallocate to 101: %v, want ErrLimit", err)
	}
	if a.Held() != 60 {
		t.Errorf("refusals changed Held to %d", a.Held())
	}
	b = a.Reallocate(100, b) // grows by 40: exactly the limit
	c := a.Allocate(0)
	if a.Held() != 100 {
		t.Errorf("Held %d after growing to the limit", a.Held())
	}
	b = a.Reallocate(10, b) // shrinking is always allowed
	if a.Held() != 10 {
		t.Errorf("Held %d after shrinking to 10", a.Held())
	}
	a.Free(b)
	a.Free(c)
	if a.Held() != 0 {
		t.Errorf("Held %d after freeing everything", a.Held())
	}
	a.Finish(false)
}

// Finish(true) frees what a failed decode left; Finish(false) leaves the
// decoded buffers to their arrays, and the allocator keeps counting.
func TestLimitAllocatorFinish(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	a := ipcguard.NewLimitAllocator(mem, 1<<20)
	kept := a.Allocate(64)
	a.Free(a.Allocate(128))
	grown := a.Reallocate(512, a.Allocate(32))
	if mem.CurrentAlloc() != 64+512 {
		t.Fatalf("allocated %d", mem.CurrentAlloc())
	}
	a.Finish(true)
	if mem.CurrentAlloc() != 0 || a.Held() != 0 {
		t.Fatalf("after Finish(true): %d allocated, Held %d", mem.CurrentAlloc(), a.Held())
	}
	_, _ = kept, grown

	a = ipcguard.NewLimitAllocator(mem, 1<<20)
	b := a.Allocate(256)
	a.Finish(false)
	c := a.Allocate(100) // after Finish: counted, not tracked
	if mem.CurrentAlloc() != 356 || a.Held() != 356 {
		t.Fatalf("after Finish(false): %d allocated, Held %d", mem.CurrentAlloc(), a.Held())
	}
	a.Free(b)
	a.Free(c)
	if a.Held() != 0 {
		t.Fatalf("Held %d", a.Held())
	}
}

func TestLimitAllocatorConcurrent(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	a := ipcguard.NewLimitAllocator(mem, 8*100*64)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var bufs [][]byte
			for i := 0; i < 100; i++ {
				bufs = append(bufs, a.Reallocate(64, a.Allocate(8)))
			}
			for _, b := range bufs[50:] {
				a.Free(b)
			}
		}()
	}
	wg.Wait()
	if a.Held() != 8*50*64 {
		t.Errorf("Held %d, want %d", a.Held(), 8*50*64)
	}
	a.Finish(true)
}

// twoColumns writes a stream of two int64 columns of n rows and returns
// it with the position of the second column's values buffer: in the body
// (the uncompressed length that prefixes compressed values) and in the
// record batch metadata (the Buffer struct: offset, length).
func twoColumns(t *testing.T, n int, opts ...ipc.Option) (data []byte, values, buffer int) {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int64},
		{Name: "b", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	rec := fill(t, s, n)
	defer rec.Release()
	data = writeStream(t, s, []arrow.RecordBatch{rec}, opts...)
	m, rb := nthMessage(data, 3)
	body := m.base + int(m.u32(-4)) // the metadata length precedes the flatbuffer
	// Buffers: validity and values of a, validity and values of b.
	buffer = m.base + m.vec(rb, slotRBBuffers) + 4 + 16*3
	return data, body + int(m.u64(buffer-m.base)), buffer
}

// With a LimitAllocator, a compressed buffer that claims a huge
// uncompressed size fails (arrow-go recovers the refusal into an error
// wrapping ErrLimit) instead of being allocated, and Finish frees the
// buffers arrow-go decompressed before and dropped.
func TestLimitAllocatorArrowGo(t *testing.T) {
	data, at, _ := twoColumns(t, 1000, ipc.WithZstd())
	limit := ipcguard.MaxExpansion*int64(len(data)) + 1<<20
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	a := ipcguard.NewLimitAllocator(mem, limit)
	if n, err := readStream(data, a); err != nil || n != 1 {
		t.Fatalf("valid stream: %d batches, %v", n, err)
	}
	a.Finish(false)

	for _, claim := range []uint64{1 << 40, uint64(limit)} {
		corrupt := append([]byte(nil), data...)
		fb{data: corrupt}.put64(at, claim)
		a := ipcguard.NewLimitAllocator(mem, limit)
		n, err := readStream(corrupt, a)
		if !errors.Is(err, ipcguard.ErrLimit) {
			t.Errorf("values claiming %d bytes: %d batches, %v; want ErrLimit", claim, n, err)
		}
		leaked := mem.CurrentAlloc()
		a.Finish(true)
		t.Logf("claim %d: arrow-go left %d bytes allocated before Finish", claim, leaked)
		if mem.CurrentAlloc() != 0 {
			t.Errorf("claim %d: %d bytes still allocated after Finish(true)", claim, mem.CurrentAlloc())
		}
	}
}

// arrow-go v18.8.0 drops the body of a record batch whose buffer lies
// outside it without freeing it; Finish(true) frees it.
func TestLimitAllocatorFreesLeak(t *testing.T) {
	data, _, buffer := twoColumns(t, 100)
	fb{data: data}.put64(buffer, 1<<40) // the values' offset in the body
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	a := ipcguard.NewLimitAllocator(mem, 1<<20)
	if n, err := readStream(data, a); err == nil {
		t.Fatalf("a buffer 1 TiB into the body: %d batches, no error", n)
	}
	if mem.CurrentAlloc() == 0 {
		t.Error("arrow-go freed everything on its error path: this test no longer shows the leak Finish is for")
	}
	a.Finish(true)
}

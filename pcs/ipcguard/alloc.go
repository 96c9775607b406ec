package ipcguard

import (
	"errors"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// MaxExpansion is the most one byte of a compressed Arrow IPC buffer can
// decompress to: 32768 bytes, the zstd worst case (an RLE block
// regenerates 128 KiB from 4 bytes; LZ4 frames expand at most about 255
// times). A decoder bounds its LimitAllocator by MaxExpansion times the
// input size (plus some slack for the decoder's own allocations): no
// valid input needs more, and a compressed buffer declaring a larger
// uncompressed size is corrupt. arrow-go v18.8.0 allocates the declared
// size before decompressing.
const MaxExpansion = 1 << 15

// ErrLimit is wrapped by the error a LimitAllocator panics with when it
// refuses an allocation: a negative size, or one that would take what it
// holds over its limit.
var ErrLimit = errors.New("ipcguard: allocation refused")

// LimitAllocator is a memory.Allocator for arrow-go's IPC readers. It
// passes allocations to the allocator it wraps and:
//
//   - refuses, by panicking with an error wrapping ErrLimit, a negative
//     size and any allocation or reallocation that would take the bytes
//     it holds (allocated and not yet freed through it) over its limit.
//     arrow-go v18.8.0 sizes buffers by what the input declares (the
//     uncompressed size of a compressed buffer); without the limit a few
//     bytes of input can allocate gigabytes. arrow-go's readers recover
//     most of their panics into errors (wrapping an error panic value
//     with %w); the decoder must recover the others.
//   - tracks its live allocations until Finish, because arrow-go's
//     readers drop some buffers without freeing them when they fail on
//     corrupt input: Finish(true) frees them, so that an allocator with
//     accounting (memory.CheckedAllocator, a pool) is not left with them.
//
// A LimitAllocator serves one decode: create it, pass it to the reader
// (ipc.WithAllocator), then call Finish. Arrays the decode returns keep
// it as their allocator and free their buffers through it when released,
// after Finish too. It is safe for concurrent use.
type LimitAllocator struct {
	mem   memory.Allocator
	limit int64

	mu   sync.Mutex
	held int64
	live map[*byte][]byte // nil once Finish has run
}

// NewLimitAllocator returns a LimitAllocator that allocates from mem
// (memory.DefaultAllocator if nil) and holds at most limit bytes at once.
func NewLimitAllocator(mem memory.Allocator, limit int64) *LimitAllocator {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	return &LimitAllocator{mem: mem, limit: limit, live: map[*byte][]byte{}}
}

// Allocate allocates size bytes, or panics (see LimitAllocator).
func (a *LimitAllocator) Allocate(size int) []byte {
	a.reserve(size, 0)
	b := a.mem.Allocate(size)
	a.track(nil, b)
	return b
}

// Reallocate resizes b to size bytes, or panics (see LimitAllocator).
func (a *LimitAllocator) Reallocate(size int, b []byte) []byte {
	a.reserve(size, len(b))
	nb := a.mem.Reallocate(size, b)
	a.track(b, nb)
	return nb
}

// Free frees b, which a allocated.
func (a *LimitAllocator) Free(b []byte) {
	a.mu.Lock()
	a.held -= int64(len(b))
	if len(b) > 0 && a.live != nil {
		delete(a.live, &b[0])
	}
	a.mu.Unlock()
	a.mem.Free(b)
}

// Held returns the number of bytes allocated through a and not yet
// freed.
func (a *LimitAllocator) Held() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.held
}

// Finish ends the tracking of live allocations; call it once, when the
// decode is over. If failed, nothing the decode returned is in use, so
// whatever a still holds is unreachable (dropped by arrow-go on an error
// path): Finish frees it. If not, the live allocations belong to the
// decoded arrays, which free them when released. a keeps counting and
// limiting after Finish.
func (a *LimitAllocator) Finish(failed bool) {
	a.mu.Lock()
	live := a.live
	a.live = nil
	a.mu.Unlock()
	if failed {
		for _, b := range live {
			a.Free(b)
		}
	}
}

// reserve counts an allocation of size bytes replacing one of old bytes,
// or panics if it is negative or over the limit.
func (a *LimitAllocator) reserve(size, old int) {
	if size < 0 {
		panic(fmt.Errorf("%w: negative size %d", ErrLimit, size))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if grow := int64(size - old); grow > 0 && a.held+grow > a.limit {
		panic(fmt.Errorf("%w: %d bytes with %d held would exceed the limit of %d bytes", ErrLimit, size, a.held, a.limit))
	}
	a.held += int64(size - old)
}

// track records b, which replaces old, as live until Finish.
func (a *LimitAllocator) track(old, b []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.live == nil {
		return
	}
	if len(old) > 0 {
		delete(a.live, &old[0])
	}
	if len(b) > 0 {
		a.live[&b[0]] = b
	}
}

package window

import "github.com/zeebo/xxh3"

// keyFilter is a Bloom filter of the entries ('s' and 'p' keys, see
// spill.go) written to the state backend since it was last rebuilt: a
// key the operator meets for the first time then costs no backend read
// (with 10M distinct session keys, Pebble's own filters still cost ~6 µs
// a missing key, one per L0 file). ~10 bits per key, 3 probes (~2% false
// positives, which only cost a read). Entries deleted from the backend
// stay in the filter; rebuild recounts from the backend when the filter
// fills and after a restore.
type keyFilter struct {
	bits []uint64
	n    int // keys added
}

// filterBitsPerKey sizes the filter.
const filterBitsPerKey = 10

// minFilterKeys is the filter's first capacity (a variable for tests).
var minFilterKeys = 1 << 16

func newKeyFilter(keys int) keyFilter {
	words := max(keys, minFilterKeys) * filterBitsPerKey / 64
	return keyFilter{bits: make([]uint64, words)}
}

func (f *keyFilter) full() bool { return f.n*filterBitsPerKey > len(f.bits)*64 }

func (f *keyFilter) probes(key []byte, fn func(word int, bit uint64) bool) bool {
	h := xxh3.Hash(key)
	h1, h2 := h, h>>32|1
	m := uint64(len(f.bits) * 64)
	for i := range uint64(3) {
		b := (h1 + i*h2) % m
		if !fn(int(b/64), 1<<(b%64)) {
			return false
		}
	}
	return true
}

func (f *keyFilter) add(key []byte) {
	f.probes(key, func(w int, bit uint64) bool { f.bits[w] |= bit; return true })
	f.n++
}

// may reports whether key may have been added.
func (f *keyFilter) may(key []byte) bool {
	return f.probes(key, func(w int, bit uint64) bool { return f.bits[w]&bit != 0 })
}

// filtered reports whether a backend key goes through the filter.
func filtered(key []byte) bool { return len(key) > 0 && (key[0] == 's' || key[0] == 'p') }

// rebuild makes the filter anew from the entries in the backend, sized
// for twice as many.
func (sp *spill) rebuild() {
	n := 0
	count := func([]byte, []byte) error { n++; return nil }
	for _, p := range []byte{'s', 'p'} {
		sp.fail("range", sp.be.Range([]byte{p}, count))
	}
	f := newKeyFilter(2 * n)
	add := func(k, _ []byte) error { f.add(k); return nil }
	for _, p := range []byte{'s', 'p'} {
		sp.fail("range", sp.be.Range([]byte{p}, add))
	}
	sp.filter = f
}

// noteWrite adds a written backend key to the filter, rebuilding it first
// when full.
func (sp *spill) noteWrite(key []byte) {
	if !filtered(key) {
		return
	}
	if sp.filter.full() {
		sp.rebuild()
	}
	sp.filter.add(key)
}

// mayHave reports whether the backend may hold key.
func (sp *spill) mayHave(key []byte) bool {
	return !filtered(key) || sp.filter.may(key)
}

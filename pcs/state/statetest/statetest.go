// Package statetest is the behaviour suite of pcs.StateBackend: every
// backend passes TestBackend.
package statetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/state"
)

// Options scale the suite.
type Options struct {
	// ManyKeys is the number of keys of the ManyKeys test; 0 means 20000.
	ManyKeys int
}

// TestBackend runs the suite; open returns a new, empty backend (the
// suite closes it).
func TestBackend(t *testing.T, open func(t *testing.T) pcs.StateBackend, opts Options) {
	if opts.ManyKeys == 0 {
		opts.ManyKeys = 20000
	}
	fresh := func(t *testing.T) pcs.StateBackend {
		b := open(t)
		t.Cleanup(func() { b.Close() })
		return b
	}
	t.Run("GetPutDelete", func(t *testing.T) {
		b := fresh(t)
		mustMiss(t, b, "a")
		key, val := []byte("a"), []byte("1")
		must(t, b.Put(key, val))
		key[0], val[0] = 'x', 'x' // the backend copied them
		mustGet(t, b, "a", "1")
		got, _, _ := b.Get([]byte("a"))
		got[0] = 'y' // the caller owns Get's value
		mustGet(t, b, "a", "1")
		must(t, b.Put([]byte("a"), []byte("2")))
		mustGet(t, b, "a", "2")
		must(t, b.Put([]byte("empty"), nil))
		mustGet(t, b, "empty", "")
		must(t, b.Put(nil, []byte("empty key")))
		mustGet(t, b, "", "empty key")
		must(t, b.Delete([]byte("a")))
		mustMiss(t, b, "a")
		must(t, b.Delete([]byte("never there")))
	})
	t.Run("RangePrefixOrder", func(t *testing.T) {
		b := fresh(t)
		keys := []string{"b/2", "a", "b/10", "b/1", "b", "c", "b\xff", "b\xff\xff", "\xff", "ba"}
		for _, k := range keys {
			must(t, b.Put([]byte(k), []byte("v"+k)))
		}
		for _, tc := range []struct{ prefix, want string }{
			{"", "[ a b b/1 b/10 b/2 ba b\xff b\xff\xff c \xff]"},
			{"b", "[b b/1 b/10 b/2 ba b\xff b\xff\xff]"},
			{"b/", "[b/1 b/10 b/2]"},
			{"b\xff", "[b\xff b\xff\xff]"},
			{"\xff", "[\xff]"},
			{"z", "[]"},
		} {
			if tc.prefix == "" {
				must(t, b.Put(nil, []byte("root")))
			}
			var got []string
			must(t, b.Range([]byte(tc.prefix), func(k, v []byte) error {
				if string(v) != "v"+string(k) && len(k) > 0 {
					t.Errorf("range %q: %q = %q", tc.prefix, k, v)
				}
				got = append(got, string(k))
				return nil
			}))
			if s := fmt.Sprint(got); s != tc.want && !(tc.want == "[]" && got == nil) {
				t.Errorf("range %q = %q, want %q", tc.prefix, s, tc.want)
			}
		}
		stop := errors.New("stop")
		n := 0
		if err := b.Range(nil, func(k, v []byte) error { n++; return stop }); err != stop || n != 1 {
			t.Errorf("range stopped with %v after %d keys, want stop after 1", err, n)
		}
		// fn may write; the range sees the state as it began.
		n = 0
		must(t, b.Range([]byte("b/"), func(k, v []byte) error {
			n++
			return b.Put(append([]byte("b/"), append(k, 'x')...), v)
		}))
		if n != 3 {
			t.Errorf("range while writing saw %d keys, want 3", n)
		}
	})
	t.Run("SnapshotRestore", func(t *testing.T) {
		b := fresh(t)
		want := fill(t, b, 500, 100)
		var snap bytes.Buffer
		must(t, b.Snapshot(&snap))
		// Changes after the snapshot are not in it.
		must(t, b.Put([]byte("later"), []byte("x")))
		into := fresh(t)
		must(t, into.Put([]byte("stale"), []byte("gone after restore")))
		must(t, into.Restore(bytes.NewReader(snap.Bytes())))
		equal(t, into, want)
		// Into the same backend: replaces, does not merge.
		must(t, b.Restore(bytes.NewReader(snap.Bytes())))
		equal(t, b, want)
		// Into the in-memory backend: the format is shared.
		mem := state.NewMemory()
		must(t, mem.Restore(bytes.NewReader(snap.Bytes())))
		equal(t, mem, want)
		// An empty snapshot restores to an empty state.
		var empty bytes.Buffer
		must(t, fresh(t).Snapshot(&empty))
		must(t, into.Restore(&empty))
		equal(t, into, map[string]string{})
	})
	t.Run("RestoreCorruptLeavesState", func(t *testing.T) {
		b := fresh(t)
		fill(t, b, 50, 10)
		var snap bytes.Buffer
		must(t, b.Snapshot(&snap))
		data := snap.Bytes()
		into := fresh(t)
		keep := fill(t, into, 7, 3)
		for name, bad := range map[string][]byte{
			"truncated": data[:len(data)/2],
			"flipped":   flip(data, len(data)/2),
			"trailing":  append(slices.Clone(data), 0),
			"empty":     nil,
		} {
			err := into.Restore(bytes.NewReader(bad))
			if !errors.Is(err, state.ErrSnapshot) {
				t.Errorf("%s: restore error %v, want ErrSnapshot", name, err)
			}
			equal(t, into, keep)
		}
	})
	t.Run("LargeValues", func(t *testing.T) {
		b := fresh(t)
		r := rand.New(rand.NewPCG(1, 2))
		want := map[string]string{}
		for i, n := range []int{1 << 20, 4 << 20, 16 << 20} {
			v := make([]byte, n)
			for j := range v {
				v[j] = byte(r.Uint32())
			}
			k := fmt.Sprintf("big%d", i)
			must(t, b.Put([]byte(k), v))
			want[k] = string(v)
		}
		equal(t, b, want)
		var snap bytes.Buffer
		must(t, b.Snapshot(&snap))
		into := fresh(t)
		must(t, into.Restore(&snap))
		equal(t, into, want)
	})
	t.Run("ManyKeys", func(t *testing.T) {
		b := fresh(t)
		want := fill(t, b, opts.ManyKeys, 16)
		// Delete every third key.
		i := 0
		for k := range want {
			if i%3 == 0 {
				must(t, b.Delete([]byte(k)))
				delete(want, k)
			}
			i++
		}
		equal(t, b, want)
		var snap bytes.Buffer
		must(t, b.Snapshot(&snap))
		into := fresh(t)
		must(t, into.Restore(&snap))
		equal(t, into, want)
	})
	t.Run("Closed", func(t *testing.T) {
		b := open(t)
		must(t, b.Put([]byte("a"), []byte("1")))
		must(t, b.Close())
		if _, _, err := b.Get([]byte("a")); !errors.Is(err, state.ErrClosed) {
			t.Errorf("get after close: %v, want ErrClosed", err)
		}
		if err := b.Put([]byte("a"), nil); !errors.Is(err, state.ErrClosed) {
			t.Errorf("put after close: %v, want ErrClosed", err)
		}
		if err := b.Range(nil, func(k, v []byte) error { return nil }); !errors.Is(err, state.ErrClosed) {
			t.Errorf("range after close: %v, want ErrClosed", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("second close: %v", err)
		}
	})
}

// fill puts n random keys (with shared prefixes) with values of up to
// size bytes and returns them.
func fill(t *testing.T, b pcs.StateBackend, n, size int) map[string]string {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(n), uint64(size)))
	want := map[string]string{}
	for len(want) < n {
		k := fmt.Sprintf("k%d/%x", r.IntN(8), r.Uint64())
		v := make([]byte, r.IntN(size+1))
		for j := range v {
			v[j] = byte(r.Uint32())
		}
		must(t, b.Put([]byte(k), v))
		want[k] = string(v)
	}
	return want
}

// equal checks b holds exactly want, through Range (in order) and Get.
func equal(t *testing.T, b pcs.StateBackend, want map[string]string) {
	t.Helper()
	var keys []string
	err := b.Range(nil, func(k, v []byte) error {
		keys = append(keys, string(k))
		if w, ok := want[string(k)]; !ok || w != string(v) {
			return fmt.Errorf("key %q: %d bytes, want %d (present %v)", k, len(v), len(w), ok)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want) {
		t.Fatalf("%d keys, want %d", len(keys), len(want))
	}
	if !slices.IsSorted(keys) {
		t.Fatal("range out of key order")
	}
	for k, w := range want {
		v, ok, err := b.Get([]byte(k))
		if err != nil || !ok || string(v) != w {
			t.Fatalf("get %q: ok %v err %v", k, ok, err)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := slices.Clone(b)
	c[i] ^= 0x55
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustGet(t *testing.T, b pcs.StateBackend, k, want string) {
	t.Helper()
	v, ok, err := b.Get([]byte(k))
	if err != nil || !ok || string(v) != want {
		t.Fatalf("get %q = %q, %v, %v; want %q", k, v, ok, err, want)
	}
}

func mustMiss(t *testing.T, b pcs.StateBackend, k string) {
	t.Helper()
	if v, ok, err := b.Get([]byte(k)); err != nil || ok {
		t.Fatalf("get %q = %q, %v, %v; want missing", k, v, ok, err)
	}
}

package pebblestate_test

import (
	"testing"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/state/pebblestate"
	"github.com/pcs-dev/pcs/pcs/state/statetest"
)

func open(t *testing.T) pcs.StateBackend {
	b, err := pebblestate.Open(t.TempDir(), pebblestate.CacheSize(8<<20))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPebble(t *testing.T) { statetest.TestBackend(t, open, statetest.Options{}) }

// TestTruncate: a store reopened with Truncate is empty; without, it
// keeps its keys.
func TestTruncate(t *testing.T) {
	dir := t.TempDir()
	b, err := pebblestate.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"", "a", "b\xff"} {
		if err := b.Put([]byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	if b, err = pebblestate.Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.Get([]byte("b\xff")); !ok {
		t.Error("reopened store lost a key")
	}
	b.Close()
	if b, err = pebblestate.Open(dir, pebblestate.Truncate()); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	n := 0
	b.Range(nil, func(k, v []byte) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d keys after Truncate", n)
	}
	if _, err := pebblestate.Open(t.TempDir(), pebblestate.CacheSize(0)); err == nil {
		t.Error("cache size 0 accepted")
	}
}

package node

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/broker/brokertest"
	"github.com/pcs-dev/pcs/pcs/state"
	"github.com/pcs-dev/pcs/pcs/state/pebblestate"
)

// TestCheckpointFilesIncremental: checkpoints of a Pebble store with
// 250k keys ($PCS_CKPT_KEYS) through the file store of incremental
// checkpoints: the second, after 1% of the keys changed, stores a small
// fraction of the first's bytes; the objects only the first listed are
// deleted once the second is committed, and so are objects a failed
// checkpoint left (sweep); the second restores into another store with
// every key and value.
func TestCheckpointFilesIncremental(t *testing.T) {
	ctx := context.Background()
	n := 250_000 // PCS_CKPT_KEYS=1000000: ~2 s without -race, ~1 min with
	if s := os.Getenv("PCS_CKPT_KEYS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	js := brokertest.JetStream(t, brokertest.Start(t))
	obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: CheckpointBucket})
	if err != nil {
		t.Fatal(err)
	}
	be, err := pebblestate.Open(filepath.Join(t.TempDir(), "st"))
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	key := func(i int) []byte { return fmt.Appendf(nil, "key-%08d", i) }
	val := func(i, gen int) []byte { return fmt.Appendf(nil, "value-%08d-%d", i, gen) }
	var snap bytes.Buffer // the keys go in as one snapshot: one batch
	sw := state.NewSnapshotWriter(&snap)
	for i := range n {
		if err := sw.Add(key(i), val(i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := be.Restore(&snap); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	f := newFileStore(obs, "p", "n1", "window")
	defer f.close()
	checkpoint := func(seq uint64) (filesPart, int64, time.Duration) {
		t0 := time.Now()
		dir, err := be.CheckpointFiles()
		if err != nil {
			t.Fatal(err)
		}
		part, sent, err := f.upload(ctx, seq, []byte("head"), dir)
		if err != nil {
			t.Fatal(err)
		}
		f.committed(ctx, part, dir, log)
		return part, sent, time.Since(t0)
	}
	objects := func() map[string]bool {
		infos, err := obs.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, o := range infos {
			m[o.Name] = true
		}
		return m
	}
	p1, full, took1 := checkpoint(1)
	for i := 0; i < n; i += 100 { // 1% of the keys change
		if err := be.Put(key(i), val(i, 2)); err != nil {
			t.Fatal(err)
		}
	}
	p2, incr, took2 := checkpoint(2)
	t.Logf("%d keys: full checkpoint %d bytes in %v, at 1%% changed %d bytes in %v (%d of %d files stored again)",
		n, full, took1, incr, took2, len(p2.Files)-reused(p1, p2), len(p2.Files))
	if incr*10 > full {
		t.Fatalf("the incremental checkpoint stored %d bytes, the full one %d: want < 10%%", incr, full)
	}
	// GC: the bucket holds exactly the second checkpoint's objects.
	want := map[string]bool{}
	for _, cf := range p2.Files {
		want[cf.Object] = true
	}
	got := objects()
	if len(got) != len(want) {
		t.Fatalf("%d objects after the second commit, want the %d it lists", len(got), len(want))
	}
	for o := range want {
		if !got[o] {
			t.Fatalf("object %s of the committed checkpoint is gone", o)
		}
	}
	// An object a failed checkpoint left is swept.
	if _, err := obs.PutBytes(ctx, f.prefix+"orphan/000999.sst", []byte("x")); err != nil {
		t.Fatal(err)
	}
	f.sweep(ctx, log)
	if got := objects(); len(got) != len(want) {
		t.Fatalf("%d objects after the sweep, want %d", len(got), len(want))
	}
	// Restore the second checkpoint into another store.
	dir, err := f.fetch(ctx, p2)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	other, err := pebblestate.Open(filepath.Join(t.TempDir(), "other"), pebblestate.Truncate())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Put([]byte("stale"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := other.RestoreFiles(dir); err != nil {
		t.Fatal(err)
	}
	i := 0
	if err := other.Range(nil, func(k, v []byte) error {
		gen := 1
		if i%100 == 0 {
			gen = 2
		}
		if !bytes.Equal(k, key(i)) || !bytes.Equal(v, val(i, gen)) {
			return fmt.Errorf("entry %d: %s = %s, want %s = %s", i, k, v, key(i), val(i, gen))
		}
		i++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("restored %d keys, want %d", i, n)
	}
	// A corrupt manifest entry fails the fetch.
	bad := filesPart{Files: []ckptFile{p2.Files[0]}}
	bad.Files[0].Digest = "SHA-256=AAAA"
	if _, err := f.fetch(ctx, bad); err == nil || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("fetch with a wrong digest: %v", err)
	}
}

// reused counts the files of p2 that p1 stored.
func reused(p1, p2 filesPart) int {
	had := map[string]bool{}
	for _, cf := range p1.Files {
		had[cf.Object] = true
	}
	n := 0
	for _, cf := range p2.Files {
		if had[cf.Object] {
			n++
		}
	}
	return n
}

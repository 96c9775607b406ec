package main

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeLongLine writes a file at path whose third line is n bytes of
// text (a CSV cell, or inside a JSON string), streaming it so that the
// test itself holds none of it.
func writeLongLine(t *testing.T, path string, head, open, close string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(head + open)
	chunk := []byte(strings.Repeat("z", 1<<20))
	for left := n; left > 0; left -= len(chunk) {
		w.Write(chunk[:min(left, len(chunk))])
	}
	w.WriteString(close + "\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// peakHeap runs f and returns the highest heap in use seen while it ran
// above the heap in use before (sampled every 2 ms).
func peakHeap(f func()) uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(done)
	wg.Wait()
	return peak - base
}

// TestInspectLongLineBounded: one 300 MiB line in a CSV or JSON Lines
// file is an error naming the file and the line, and pcs inspect's heap
// stays within a few times the 64 MiB default limit (it took 3.6 GiB
// without a limit).
func TestInspectLongLineBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 300 MiB files")
	}
	const line = 300 << 20
	const bound = 400 << 20
	for _, tc := range []struct {
		name, file, head, open, close string
		want                          string
	}{
		{name: "csv", file: "big.csv", head: "a,b\n1,2\n", open: "3,", want: "line 3: line too long: the record starting here is longer than 67108864 bytes"},
		{name: "jsonl", file: "big.jsonl", head: `{"a":1}` + "\n" + `{"a":2}` + "\n", open: `{"a":"`, close: `"}`, want: "line 3: line too long: longer than 67108864 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.file)
			writeLongLine(t, path, tc.head, tc.open, tc.close, line)
			var r result
			heap := peakHeap(func() { r = pcs(context.Background(), "inspect", path) })
			t.Logf("peak heap over the baseline: %d MiB", heap>>20)
			if r.code == 0 || !strings.Contains(r.stderr, path) || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("pcs inspect: exit %d, stderr %q; want an error naming %s and %q", r.code, r.stderr, path, tc.want)
			}
			if heap > bound {
				t.Errorf("peak heap %d MiB reading one 300 MiB line, want at most %d MiB", heap>>20, bound>>20)
			}
		})
	}
	// A limit above a line reads it.
	path := filepath.Join(t.TempDir(), "long.csv")
	writeLongLine(t, path, "a,b\n1,2\n", "3,", "", 2<<20)
	if r := pcs(context.Background(), "inspect", "--max-line-bytes", "1MiB", path); r.code == 0 || !strings.Contains(r.stderr, "longer than 1048576 bytes") {
		t.Errorf("--max-line-bytes 1MiB on a 2 MiB line: %v", r)
	}
	if r := pcs(context.Background(), "inspect", "--max-line-bytes", "3MiB", "--json", path); r.code != 0 || !strings.Contains(r.stdout, `"rows": 2`) {
		t.Errorf("--max-line-bytes 3MiB on a 2 MiB line: %v", r)
	}
}

package window_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/state/pebblestate"
	"github.com/pcs-dev/pcs/pcs/window"
)

// The state benchmark (issue 18), not part of make test: session windows
// per key over PCS_STATE_BENCH_KEYS distinct keys (default 10M), one row
// per key in a deterministic order, then 1% of the keys again; each
// backend in its own child process with GOMEMLIMIT (PCS_STATE_BENCH_MEMLIMIT,
// default 1GiB) so that its peak RSS (rusage maxrss) is its own. It
// prints go test -bench lines:
//
//	PCS_STATE_BENCH=1 go test -run '^TestStateBenchmark$' -v -timeout 30m ./pcs/window/
//
// rows/s is the first pass (every key new); RSS-MB the child's peak;
// ckpt-MB and ckpt-ms the full checkpoint after it (memory: Snapshot's
// bytes; pebble: SnapshotFiles, the bytes of its files, the flush and
// hard links), ckpt1%-MB and ckpt1%-ms the checkpoint after 1% of the
// keys changed (memory: a full Snapshot again; pebble: the bytes of the
// files the previous checkpoint did not have, what pcs-node stores),
// ckpt1%b the next one after another 1%. PCS_STATE_BENCH_MODES=pebble
// runs one backend.
func TestStateBenchmark(t *testing.T) {
	if os.Getenv("PCS_STATE_BENCH") == "" {
		t.Skip("set PCS_STATE_BENCH=1 (minutes; see the comment)")
	}
	limit := os.Getenv("PCS_STATE_BENCH_MEMLIMIT")
	if limit == "" {
		limit = "1GiB"
	}
	modes := []string{"memory", "pebble"}
	if m := os.Getenv("PCS_STATE_BENCH_MODES"); m != "" {
		modes = strings.Split(m, ",")
	}
	for _, mode := range modes {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStateBenchmarkChild$", "-test.v", "-test.timeout=60m")
		cmd.Env = append(os.Environ(), "PCS_STATE_BENCH_CHILD="+mode, "PCS_STATE_BENCH_DIR="+t.TempDir(), "GOMEMLIMIT="+limit)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, out)
		}
		var res string
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			if r, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
				res = r
			}
		}
		if res == "" {
			t.Fatalf("%s: no result\n%s", mode, out)
		}
		rss := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024 // KiB on Linux
		fmt.Printf("BenchmarkSessions10M/%s\t1\t%s\t%.0f RSS-MB\n", mode, res, rss)
	}
}

// TestStateBenchmarkChild is a child process of TestStateBenchmark.
func TestStateBenchmarkChild(t *testing.T) {
	mode := os.Getenv("PCS_STATE_BENCH_CHILD")
	if mode == "" {
		t.Skip("a child process of TestStateBenchmark")
	}
	n := 10_000_000
	if s := os.Getenv("PCS_STATE_BENCH_KEYS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	spec := window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.Session(time.Hour), Keys: []string{"k"},
		Aggs: parseAggs(t, []string{"count(*) as n", "sum(v) as total"})}
	if mode == "pebble" {
		dir := os.Getenv("PCS_STATE_BENCH_DIR")
		spec.State = func() (pcs.StateBackend, error) {
			return pebblestate.Open(filepath.Join(dir, "st"), pebblestate.Truncate())
		}
	}
	op, err := window.New(spec, simpleSchema, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	const batch = 1 << 16
	// pass feeds rows [lo, hi): row j has key (j*7919) mod n (a
	// permutation of the keys: 7919 is prime to 10^7) and time j/100 ms.
	pass := func(lo, hi, t0 int) {
		for b := lo; b < hi; b += batch {
			rec := sessionBatch(b, min(b+batch, hi), n, t0)
			out, err := op.Process(ctx, "s", rec)
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
			out.Release()
		}
	}
	var prev map[string]int64 // pebble: the files of the previous checkpoint
	checkpoint := func() (int64, time.Duration) {
		t0 := time.Now()
		if mode == "memory" {
			b, err := op.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			return int64(len(b)), time.Since(t0)
		}
		head, dir, err := op.SnapshotFiles()
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(t0)
		defer os.RemoveAll(dir)
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		size, files := int64(len(head)), map[string]int64{}
		for _, e := range ents {
			info, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = info.Size()
			if s, ok := prev[e.Name()]; !ok || s != info.Size() || !strings.HasSuffix(e.Name(), ".sst") {
				size += info.Size()
			}
		}
		prev = files
		return size, took
	}
	t0 := time.Now()
	pass(0, n, 0)
	secs := time.Since(t0).Seconds()
	full, fullT := checkpoint()
	pass(0, n/100, n) // 1% of the keys again, later
	incr, incrT := checkpoint()
	pass(n/100, 2*n/100, n+n/100) // another 1%
	incr2, incr2T := checkpoint()
	fmt.Printf("RESULT %.0f ns/op\t%.0f rows/s\t%.1f ckpt-MB\t%.0f ckpt-ms\t%.2f ckpt1%%-MB\t%.0f ckpt1%%-ms\t%.2f ckpt1%%b-MB\t%.0f ckpt1%%b-ms\n",
		secs*1e9, float64(n)/secs, float64(full)/1e6, float64(fullT.Milliseconds()), float64(incr)/1e6, float64(incrT.Milliseconds()),
		float64(incr2)/1e6, float64(incr2T.Milliseconds()))
}

// sessionBatch is rows [lo, hi) of the benchmark's input (see pass).
func sessionBatch(lo, hi, n, t0 int) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, simpleSchema)
	defer b.Release()
	ts, ks, vs := b.Field(0).(*array.TimestampBuilder), b.Field(1).(*array.StringBuilder), b.Field(2).(*array.Int64Builder)
	var key []byte
	for j := lo; j < hi; j++ {
		ts.Append(arrow.Timestamp((t0 + j) / 100))
		key = strconv.AppendInt(append(key[:0], 'k'), int64(j*7919%n), 10)
		ks.BinaryBuilder.Append(key)
		vs.Append(int64(j % 100))
	}
	return b.NewRecordBatch()
}

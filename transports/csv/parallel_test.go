package csv_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/csv"
)

// tricky returns a CSV text of n records with quoted fields holding line
// breaks, delimiters and doubled quotes, empty lines, CRLF line ends and
// timestamps.
func tricky(n int) string {
	var b strings.Builder
	b.WriteString("id,name,note,at,x\n")
	for i := range n {
		note := fmt.Sprintf("plain %d", i)
		switch i % 7 {
		case 1:
			note = fmt.Sprintf("\"line one\nline two, %d\"", i)
		case 2:
			note = "\"he said \"\"hi\"\"\n\n\"\"\""
		case 3:
			note = ""
		case 4:
			note = fmt.Sprintf("\"%s\"", strings.Repeat("q\"\"\n", i%5))
		}
		end := "\n"
		if i%5 == 0 {
			end = "\r\n"
		}
		fmt.Fprintf(&b, "%d,n%d,%s,2024-01-%02dT10:00:%02dZ,%g%s", i, i%13, note, 1+i%28, i%60, float64(i)/8, end)
		if i%11 == 0 {
			b.WriteString("\n") // an empty line: not a record
		}
	}
	return b.String()
}

func readBatches(t *testing.T, path string, opts ...csv.SourceOption) ([]arrow.RecordBatch, error) {
	t.Helper()
	src, err := csv.NewSource(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []arrow.RecordBatch
	for {
		rec, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

func sameBatches(t *testing.T, serial, par []arrow.RecordBatch) {
	t.Helper()
	if len(serial) != len(par) {
		t.Fatalf("%d batches in parallel, %d serially", len(par), len(serial))
	}
	for i := range serial {
		if !array.RecordEqual(serial[i], par[i]) {
			t.Fatalf("batch %d differs:\nserial %v\nparallel %v", i, serial[i], par[i])
		}
	}
}

func TestParallelSameBatches(t *testing.T) {
	defer csv.SetSegmentBytes(1000)()
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		rows  int
		batch int
		opts  []csv.SourceOption
	}{
		{"batch7", 3000, 7, nil},
		{"batch1", 500, 1, nil},
		{"batch1000", 5000, 1000, nil},
		{"one-segment", 20, 64, nil},
		{"empty-body", 0, 5, nil},
		{"no-header", 800, 9, []csv.SourceOption{csv.WithHeader(false)}},
		{"declared", 900, 13, []csv.SourceOption{csv.WithColumnTypes(map[string]arrow.DataType{"at": &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".csv")
			text := tricky(tc.rows)
			if tc.name == "one-segment" {
				text = strings.TrimSuffix(text, "\n") // no final line break
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			opts := append([]csv.SourceOption{csv.WithBatchRows(tc.batch), csv.WithAllocator(mem)}, tc.opts...)
			serial, err := readBatches(t, path, opts...)
			defer releaseAll(serial)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{2, 4} {
				par, err := readBatches(t, path, append(opts, csv.WithParallel(n))...)
				if err != nil {
					releaseAll(par)
					t.Fatal(err)
				}
				sameBatches(t, serial, par)
				releaseAll(par)
			}
		})
	}
}

func TestParallelErrors(t *testing.T) {
	defer csv.SetSegmentBytes(500)()
	dir := t.TempDir()
	body := tricky(2000)
	lines := strings.SplitAfter(body, "\n")
	mid := len(lines) / 2
	for strings.Count(strings.Join(lines[:mid], ""), "\"")%2 == 1 {
		mid++
	}
	before, after := strings.Join(lines[:mid], ""), strings.Join(lines[mid:], "")
	for _, tc := range []struct {
		name, insert string
		opts         []csv.SourceOption
	}{
		{"too-long", "1,n," + strings.Repeat("z", 3000) + ",2024-01-01T00:00:00Z,1\n", []csv.SourceOption{csv.WithMaxLineBytes(2000)}},
		{"too-long-quoted", "1,n,\"" + strings.Repeat("z\n", 1500) + "\",2024-01-01T00:00:00Z,1\n", []csv.SourceOption{csv.WithMaxLineBytes(2000)}},
		{"bad-value", "oops,n,x,2024-01-01T00:00:00Z,1\n", nil},
		{"field-count", "1,2\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".csv")
			if err := os.WriteFile(path, []byte(before+tc.insert+after), 0o644); err != nil {
				t.Fatal(err)
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			opts := append([]csv.SourceOption{csv.WithBatchRows(10), csv.WithInferRows(50), csv.WithAllocator(mem)}, tc.opts...)
			serial, serr := readBatches(t, path, opts...)
			defer releaseAll(serial)
			par, perr := readBatches(t, path, append(opts, csv.WithParallel(3))...)
			defer releaseAll(par)
			if serr == nil || perr == nil {
				t.Fatalf("serial %v, parallel %v: want errors", serr, perr)
			}
			if serr.Error() != perr.Error() {
				t.Errorf("errors differ:\nserial   %v\nparallel %v", serr, perr)
			}
			var pe *csv.ParseError
			if !errors.As(perr, &pe) || !strings.Contains(perr.Error(), path) {
				t.Errorf("parallel error %v: want a *ParseError naming the file", perr)
			}
			// The serial reader meets a long record when its read-ahead
			// does, maybe before returning the batches before it: the
			// batches returned are a prefix of the file's either way.
			n := min(len(serial), len(par))
			sameBatches(t, serial[:n], par[:n])
		})
	}
}

// TestParallelClose closes a source mid-file: its goroutines stop and
// the batches parsed ahead are released.
func TestParallelClose(t *testing.T) {
	defer csv.SetSegmentBytes(300)()
	path := filepath.Join(t.TempDir(), "c.csv")
	if err := os.WriteFile(path, []byte(tricky(5000)), 0o644); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src, err := csv.NewSource(path, csv.WithAllocator(mem), csv.WithBatchRows(5), csv.WithParallel(2))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rec.Release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a done ctx: %v", err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Read(context.Background()); !errors.Is(err, csv.ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
}

// TestParallelRandom compares parallel and serial reads of random files:
// quoted fields with line breaks, CRLF, doubled quotes, delimiters and
// empty lines, random batch and segment sizes.
func TestParallelRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 7))
	dir := t.TempDir()
	pieces := []string{"a", "bc", "1", "x y", "", "é"}
	for iter := range 30 {
		var b strings.Builder
		b.WriteString("p,q,r\n")
		rows := rng.IntN(400)
		for range rows {
			for c := range 3 {
				if c > 0 {
					b.WriteByte(',')
				}
				v := pieces[rng.IntN(len(pieces))]
				switch rng.IntN(4) {
				case 0:
					v = "\"" + v + "\n" + v + "\r\n\"\"" + "," + "\""
				case 1:
					v = "\"" + v + "\""
				}
				b.WriteString(v)
			}
			if rng.IntN(3) == 0 {
				b.WriteString("\r\n")
			} else {
				b.WriteString("\n")
			}
			if rng.IntN(10) == 0 {
				b.WriteString("\n")
			}
		}
		path := filepath.Join(dir, fmt.Sprintf("r%d.csv", iter))
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		undo := csv.SetSegmentBytes(1 + rng.IntN(2000))
		opts := []csv.SourceOption{csv.WithBatchRows(1 + rng.IntN(20)), csv.WithColumnTypes(map[string]arrow.DataType{
			"p": arrow.BinaryTypes.String, "q": arrow.BinaryTypes.String, "r": arrow.BinaryTypes.String,
		})}
		serial, err := readBatches(t, path, opts...)
		if err != nil {
			t.Fatal(err)
		}
		par, err := readBatches(t, path, append(opts, csv.WithParallel(1+rng.IntN(4)))...)
		if err != nil {
			t.Fatal(err)
		}
		sameBatches(t, serial, par)
		releaseAll(serial)
		releaseAll(par)
		undo()
	}
}

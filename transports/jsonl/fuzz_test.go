package jsonl_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/jsonl"
)

// FuzzSource reads arbitrary bytes as JSON lines with inference: it may
// fail, but must not panic or leak, and must end with io.EOF or an
// error.
func FuzzSource(f *testing.F) {
	for _, s := range []string{
		`{"a": 1, "b": "x"}` + "\n" + `{"a": 2.5, "c": [1, {"d": null}]}`,
		`{"t": "2012-01-01T10:00:00Z"}` + "\n" + `{"t": "2012-01-01T10:00:00"}`,
		`{"a": 1}` + "\n" + `{"a": "x"}`,
		`{"a": 1,, "b": 2}`,
		`[1, 2]`,
		`{"a": "\u00e9\ud800"}`,
		"\xEF\xBB\xBF{}\r\n\n{}",
		`{"a": 1} {"a": 2}`,
		`{"d": "2026-11-01"}` + "\n" + `{"d": "2026-02-30"}`,
	} {
		f.Add([]byte(s), 1)
	}
	f.Fuzz(func(t *testing.T, data []byte, inferRows int) {
		if inferRows <= 0 || inferRows > 100 {
			inferRows = -1
		}
		path := filepath.Join(t.TempDir(), "f.jsonl")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		src, err := jsonl.NewSource(path, jsonl.WithAllocator(mem), jsonl.WithInferRows(inferRows), jsonl.WithBatchRows(2))
		if err != nil {
			return
		}
		defer src.Close()
		for i := 0; i < 1000; i++ {
			rec, err := src.Read(context.Background())
			if err != nil {
				return
			}
			if !rec.Schema().Equal(src.Schema()) {
				t.Fatalf("batch schema %s, source schema %s", rec.Schema(), src.Schema())
			}
			rec.Release()
		}
		t.Fatal("no end after 1000 Reads")
	})
}

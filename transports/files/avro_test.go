package files_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hamba/avro/v2/ocf"

	"github.com/pcs-dev/pcs/transports/avro"
	"github.com/pcs-dev/pcs/transports/files"
)

// writeAvro writes rows of (id long, name ["null","string"]) with
// hamba/avro's OCF encoder.
func writeAvro(t *testing.T, path string, n int) {
	t.Helper()
	type rec struct {
		ID   int64   `avro:"id"`
		Name *string `avro:"name"`
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := ocf.NewEncoder(`{"type":"record","name":"r","fields":[{"name":"id","type":"long"},{"name":"name","type":["null","string"]}]}`, f)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		r := rec{ID: int64(i)}
		if i%2 == 0 {
			s := "n" + string(rune('a'+i%26))
			r.Name = &s
		}
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAvro(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.avro")
	writeAvro(t, path, 100)

	// The magic decides, whatever the name.
	other := filepath.Join(dir, "data.bin")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, other} {
		if f, err := files.Sniff(p); err != nil || f != files.Avro {
			t.Errorf("Sniff(%s) = %v, %v; want avro", p, f, err)
		}
	}
	if f, err := files.FormatOf("x.AVRO"); err != nil || f != files.Avro || f.String() != "avro" {
		t.Errorf("FormatOf(x.AVRO) = %v, %v", f, err)
	}

	t.Run("Open", func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		src, err := files.Open(other, files.WithAllocator(mem), files.WithBatchRows(30))
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if _, ok := src.(*avro.Source); !ok {
			t.Errorf("Open returned %T, want *avro.Source", src)
		}
		rows := 0
		for {
			rec, err := src.Read(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.NumRows() > 30 {
				t.Errorf("batch of %d rows", rec.NumRows())
			}
			ids := rec.Column(0).(*array.Int64)
			for r := 0; r < ids.Len(); r++ {
				if ids.Value(r) != int64(rows) || rec.Column(1).IsNull(r) != (rows%2 == 1) {
					t.Errorf("row %d: id %d, name %s", rows, ids.Value(r), rec.Column(1).ValueStr(r))
				}
				rows++
			}
			rec.Release()
		}
		if rows != 100 {
			t.Errorf("%d rows, want 100", rows)
		}
	})

	t.Run("Columns", func(t *testing.T) {
		src, err := files.Open(path, files.WithColumns("name"))
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if got := src.Schema(); got.NumFields() != 1 || got.Field(0).Name != "name" {
			t.Errorf("schema %s, want name only", got)
		}
		if _, err := files.Open(path, files.WithColumns("nope")); !errors.Is(err, files.ErrUnknownColumn) {
			t.Errorf("unknown column: %v", err)
		}
	})

	t.Run("CreateUnsupported", func(t *testing.T) {
		sc := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}}, nil)
		if _, err := files.Create(filepath.Join(dir, "out.avro"), sc); !errors.Is(err, files.ErrUnsupported) {
			t.Errorf("Create(.avro): %v, want ErrUnsupported", err)
		}
	})
}

package outfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/internal/plain"
)

func TestCommitAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	f, err := Create(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name() == path {
		t.Fatalf("atomic file written under its final name")
	}
	if _, err := f.Writer().Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("final name exists before Commit: %v", err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatalf("second Commit: %v", err)
	}
	if err := f.Abandon(); err != nil {
		t.Fatalf("Abandon after Commit: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "hello" {
		t.Fatalf("content %q, %v", b, err)
	}
	if _, err := os.Stat(f.Name()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file left: %v", err)
	}
}

func TestAbandon(t *testing.T) {
	for _, atomic := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "out.txt")
		f, err := Create(path, atomic)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.Writer().Write([]byte("x"))
		if err := f.Abandon(); err != nil {
			t.Fatal(err)
		}
		if err := f.Abandon(); err != nil {
			t.Fatalf("second Abandon: %v", err)
		}
		if err := f.Commit(); !errors.Is(err, ErrFinished) {
			t.Fatalf("Commit after Abandon: %v", err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("atomic=%v: files left: %v", atomic, ents)
		}
	}
}

func TestCreateError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "out.txt")
	for _, atomic := range []bool{false, true} {
		if _, err := Create(path, atomic); err == nil {
			t.Fatalf("atomic=%v: no error for a missing directory", atomic)
		}
	}
}

func TestStateBeginPlain(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: dt, Nullable: true}}, nil)
	path := filepath.Join(t.TempDir(), "out.txt")
	st, err := CreateState(path, true, schema, "pkg", errors.New("pkg: closed"))
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, schema)
	db := b.Field(0).(*array.BinaryDictionaryBuilder)
	_ = db.AppendString("x")
	db.AppendNull()
	_ = db.AppendString("y")
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()

	out, err := st.BeginPlain(ctx, rec, plain.Schema(schema), mem)
	if err != nil || out == nil {
		t.Fatalf("BeginPlain = %v, %v", out, err)
	}
	if got := out.Column(0).String(); got != `["x" (null) "y"]` || out.Schema().Field(0).Type.ID() != arrow.STRING {
		t.Errorf("decoded column %s of %s", got, out.Schema())
	}
	out.Release()

	empty := rec.NewSlice(0, 0)
	defer empty.Release()
	if out, err := st.BeginPlain(ctx, empty, plain.Schema(schema), mem); out != nil || err != nil {
		t.Errorf("empty batch: %v, %v", out, err)
	}
	if err := st.Close(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("committed file: %v", err)
	}
	if _, err := CreateState(filepath.Join(path, "sub", "x"), false, schema, "pkg", nil); err == nil || !strings.HasPrefix(err.Error(), "pkg: create ") {
		t.Errorf("CreateState in a missing directory: %v", err)
	}
}

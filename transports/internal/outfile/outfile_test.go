package outfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
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

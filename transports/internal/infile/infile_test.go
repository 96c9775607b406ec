package infile

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var errClosed = errors.New("pkg: closed")

func TestState(t *testing.T) {
	ctx := context.Background()
	s := NewState("f.x", "pkg", errClosed)
	if err := s.Begin(ctx); err != nil {
		t.Fatalf("fresh state: %v", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Begin(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("done ctx: %v", err)
	}
	if err := s.Begin(ctx); err != nil {
		t.Fatalf("a ctx error is not sticky: %v", err)
	}
	boom := errors.New("boom")
	if err := s.ReadError(boom); !errors.Is(err, boom) || err.Error() != "pkg: read f.x: boom" {
		t.Fatalf("ReadError = %v", err)
	}
	if err := s.Begin(ctx); !errors.Is(err, boom) {
		t.Fatalf("failure not sticky: %v", err)
	}

	s = NewState("f.x", "pkg", errClosed)
	if err := s.EOF(); err != io.EOF {
		t.Fatalf("EOF() = %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := s.Begin(ctx); err != io.EOF {
			t.Fatalf("after the end: %v", err)
		}
	}
	calls := 0
	release := func() error { calls++; return boom }
	if err := s.Close(release); !errors.Is(err, boom) || err.Error() != "pkg: close f.x: boom" {
		t.Fatalf("Close = %v", err)
	}
	if err := s.Close(release); err != nil || calls != 1 {
		t.Fatalf("second Close = %v after %d releases", err, calls)
	}
	if err := s.Begin(ctx); !errors.Is(err, errClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.csv")
	_, err := Open("csv", path)
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "csv: open "+path) {
		t.Fatalf("Open(missing) = %v", err)
	}
	if err := os.WriteFile(path, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open("csv", path)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

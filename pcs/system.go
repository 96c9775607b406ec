package pcs

import (
	"context"
	"fmt"
	"strings"
)

// System is one step of a pipeline. Meta declares what it reads and
// writes; Run does the work on ds.
//
// The pipeline calls Run on its own goroutine, concurrently with the other
// systems of the same stage, possibly several times (retries). ds is a
// view restricted to the declared access: reading or writing anything else
// returns an error wrapping ErrUndeclaredAccess. Writes are buffered in the
// system's write set and applied after the stage only if Run returns nil,
// so a failed attempt leaves nothing behind. Arrays obtained from ds are
// valid until Run returns. Run should honour ctx; wrap errors that a retry
// cannot fix with Permanent.
type System interface {
	Meta() SystemMeta
	Run(ctx context.Context, ds *Dataset) error
}

// SystemMeta declares a system's name (unique in a pipeline), what it reads
// and writes, and its retry policy. Refs are fields (FieldRef), whole
// components (*Component, *DynamicComponent), resource types (Resource[T]())
// and the alive bitmap (Rows, for systems that delete rows). A declared
// write implies the read of the same thing.
//
// Build it with Meta("name").Read(...).Write(...).
type SystemMeta struct {
	Name   string
	Reads  []Ref
	Writes []Ref
	// Retry is the system's retry policy; nil means the pipeline's default.
	Retry *RetryPolicy
}

// Meta returns an empty SystemMeta for a system called name.
func Meta(name string) SystemMeta { return SystemMeta{Name: name} }

// Read returns m with refs added to its reads.
func (m SystemMeta) Read(refs ...Ref) SystemMeta {
	m.Reads = append(append([]Ref(nil), m.Reads...), refs...)
	return m
}

// Write returns m with refs added to its writes.
func (m SystemMeta) Write(refs ...Ref) SystemMeta {
	m.Writes = append(append([]Ref(nil), m.Writes...), refs...)
	return m
}

// WithRetry returns m with retry policy p.
func (m SystemMeta) WithRetry(p RetryPolicy) SystemMeta {
	m.Retry = &p
	return m
}

// String renders the declaration as "name(reads: a.x, b.* | writes: a.y)".
func (m SystemMeta) String() string {
	return fmt.Sprintf("%s(reads: %s | writes: %s)", m.Name, refList(m.Reads), refList(m.Writes))
}

func refList(refs []Ref) string {
	if len(refs) == 0 {
		return "-"
	}
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.access().String()
	}
	return strings.Join(s, ", ")
}

// SystemFunc adapts a function to a System with the given meta.
func SystemFunc(meta SystemMeta, run func(ctx context.Context, ds *Dataset) error) System {
	return funcSystem{meta: meta, run: run}
}

type funcSystem struct {
	meta SystemMeta
	run  func(context.Context, *Dataset) error
}

func (f funcSystem) Meta() SystemMeta                           { return f.meta }
func (f funcSystem) Run(ctx context.Context, ds *Dataset) error { return f.run(ctx, ds) }

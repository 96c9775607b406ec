package fileopt

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var errInvalid = errors.New("pkg: invalid option")

type srcCfg struct {
	SourceBase
	TextSourceBase
	name string
}

type sinkCfg struct {
	SinkBase
	name string
}

type (
	srcOpt  = Source[srcCfg]
	sinkOpt = Sink[sinkCfg]
)

func TestApply(t *testing.T) {
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int8}}, nil)
	named := func(n string) Both[srcCfg, sinkCfg] {
		return BothFuncs(func(c *srcCfg) error { c.name += n; return nil }, func(c *sinkCfg) error { c.name += n; return nil })
	}

	src := srcCfg{SourceBase: NewSourceBase(100)}
	err := ApplySource(&src, []srcOpt{named("a"), Allocator[srcCfg, sinkCfg](errInvalid, mem), BatchRows[srcCfg](errInvalid, 7),
		Schema[srcCfg](errInvalid, schema), InferRows[srcCfg](errInvalid, -1), named("b")})
	if err != nil {
		t.Fatal(err)
	}
	if src.name != "ab" || src.Mem != mem || src.BatchRows != 7 || src.Schema != schema || src.InferRows != -1 {
		t.Errorf("source config %+v", src)
	}

	sink := sinkCfg{SinkBase: NewSinkBase()}
	if sink.Mem != memory.DefaultAllocator || sink.Atomic {
		t.Errorf("default sink config %+v", sink)
	}
	if err := ApplySink(&sink, []sinkOpt{named("x"), AtomicRename[sinkCfg](true), Allocator[srcCfg, sinkCfg](errInvalid, mem)}); err != nil {
		t.Fatal(err)
	}
	if sink.name != "x" || !sink.Atomic || sink.Mem != mem {
		t.Errorf("sink config %+v", sink)
	}

	// The first failing option stops the others; errors wrap the
	// package's sentinel.
	for _, tc := range []struct {
		opt  srcOpt
		want string
	}{
		{Allocator[srcCfg, sinkCfg](errInvalid, nil), "nil allocator"},
		{SourceAllocator[srcCfg](errInvalid, nil), "nil allocator"},
		{BatchRows[srcCfg](errInvalid, 0), "batch rows must be > 0, got 0"},
		{Schema[srcCfg](errInvalid, nil), "nil schema"},
		{InferRows[srcCfg](errInvalid, 0), "infer rows must be > 0 or -1, got 0"},
	} {
		c := srcCfg{}
		err := ApplySource(&c, []srcOpt{tc.opt, named("never")})
		if !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), tc.want) || c.name != "" {
			t.Errorf("%q: err %v, name %q", tc.want, err, c.name)
		}
	}
}

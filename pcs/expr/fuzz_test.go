package expr_test

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/expr"
)

func addSeeds(f *testing.F) {
	for _, tc := range cases {
		f.Add(tc.src)
	}
	for _, tc := range append(append([]errCase{}, syntaxErrors...), typeErrors...) {
		f.Add(tc.src)
	}
	f.Add("-9223372036854775808 + -(5) - -.5e3")
	f.Add("`a``b` = \"x\\\"y\" or case when not a is not null then 1 else 2 end in (1, -2)")
}

// FuzzParse: Parse never panics, and what it parses prints back (String)
// to text that parses to the same tree.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, src string) {
		n, err := expr.Parse(src)
		if err != nil {
			return
		}
		s1 := n.String()
		n2, err := expr.Parse(s1)
		if err != nil && strings.Contains(err.Error(), "nested too deeply") {
			return // the printed form has more parentheses
		}
		if err != nil {
			t.Fatalf("Parse(%q) printed %q, which does not parse: %v", src, s1, err)
		}
		if s2 := n2.String(); s2 != s1 {
			t.Fatalf("Parse(%q): printed %q, reparsed and printed %q", src, s1, s2)
		}
	})
}

// FuzzEval: Compile and Eval never panic nor leak, whatever the source,
// and a batch sliced at an offset (bitmaps not byte aligned) gives the
// same rows as the whole batch.
func FuzzEval(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, src string) {
		x, err := expr.Compile(src, testSchema)
		if err != nil {
			return
		}
		mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
		defer mem.AssertSize(t, 0)
		bt := newBatch(t, mem, 11, 37)
		defer bt.rec.Release()
		sl := bt.rec.NewSlice(3, 30)
		defer sl.Release()
		out, err := x.Eval(context.Background(), sl, mem)
		if err != nil {
			return
		}
		defer out.Release()
		if out.Len() != 27 || out.DataType().String() != x.Type().String() {
			t.Fatalf("%q: got %s[%d], want %s[27]", src, out.DataType(), out.Len(), x.Type())
		}
		full, err := x.Eval(context.Background(), bt.rec, mem)
		if err != nil {
			return
		}
		defer full.Release()
		for i := 0; i < out.Len(); i++ {
			if a, b := goValue(out, i), goValue(full, 3+i); !sameValue(a, b) {
				t.Fatalf("%q row %d: %s on the slice, %s on the batch", src, 3+i, show(a), show(b))
			}
		}
	})
}

package expr_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/expr"
)

// errCase: compiling src fails with kind at pos (line:col), and the
// message contains msg.
type errCase struct {
	src  string
	kind error
	pos  string
	msg  string
}

var syntaxErrors = []errCase{
	{"1 +", expr.ErrSyntax, "1:4", "expected expression, found end of expression"},
	{"(i64 + j64", expr.ErrSyntax, "1:11", "expected ')'"},
	{"i64 ! j64", expr.ErrSyntax, "1:5", "unexpected '!'"},
	{"'abc", expr.ErrSyntax, "1:1", "unterminated string"},
	{"`abc", expr.ErrSyntax, "1:1", "unterminated quoted identifier"},
	{"i64 < j64 < 3", expr.ErrSyntax, "1:11", "comparisons cannot be chained"},
	{"abs(1,)", expr.ErrSyntax, "1:7", "expected expression, found ')'"},
	{"cast(i64 as)", expr.ErrSyntax, "1:12", "expected type name"},
	{"cast(i64 int64)", expr.ErrSyntax, "1:10", "expected 'as'"},
	{"case i64 end", expr.ErrSyntax, "1:6", "expected 'when'"},
	{"case when b then 1", expr.ErrSyntax, "1:19", "expected 'when', 'else' or 'end'"},
	{"i64 in ()", expr.ErrSyntax, "1:9", "expected expression"},
	{"i64 in 1, 2", expr.ErrSyntax, "1:8", "expected '('"},
	{"i64 is not", expr.ErrSyntax, "1:11", "expected 'null'"},
	{"12abc", expr.ErrSyntax, "1:3", `unexpected 'a' after number`},
	{"99999999999999999999", expr.ErrSyntax, "1:1", "out of range"},
	{"1e999", expr.ErrSyntax, "1:1", "out of range"},
	{"1e", expr.ErrSyntax, "1:3", "expected exponent digits"},
	{"timestamp '2001-13-01'", expr.ErrSyntax, "1:11", "invalid timestamp"},
	{"date '2001-01-01T00:00:00Z'", expr.ErrSyntax, "1:6", "invalid date"},
	{"duration '5 minutes'", expr.ErrSyntax, "1:10", "invalid duration"},
	{"b\n  and @", expr.ErrSyntax, "2:7", "unexpected character '@'"},
	{"'é' = s and\n\t'\\q'", expr.ErrSyntax, "2:3", `unknown escape sequence \q`},
	{"not", expr.ErrSyntax, "1:4", "expected expression"},
	{"i64 j64", expr.ErrSyntax, "1:5", "expected operator or end of expression"},
	{"and", expr.ErrSyntax, "1:1", `expected expression, found "and"`},
	{"i64 not like 'a'", expr.ErrSyntax, "1:9", "expected 'in' after 'not'"},
	{"i64 is 3", expr.ErrSyntax, "1:8", "expected 'null'"},
	{"s = \xff", expr.ErrSyntax, "1:5", "invalid UTF-8"},
	{"", expr.ErrSyntax, "1:1", "expected expression"},
	{strings.Repeat("(", 1000) + "1" + strings.Repeat(")", 1000), expr.ErrSyntax, "1:", "nested too deeply"},
	{strings.Repeat("-", 1000) + "i64", expr.ErrSyntax, "1:", "nested too deeply"},
	{"1" + strings.Repeat(" + 1", 1000), expr.ErrSyntax, "1:", "nested too deeply"},
}

var typeErrors = []errCase{
	{"s + 1", expr.ErrType, "1:3", "operator + is not defined for utf8 and int64"},
	{"ts * 2", expr.ErrType, "1:4", "operator * is not defined for timestamp[us] and int64"},
	{"d32 + duration '1h'", expr.ErrType, "1:5", "cast the date to timestamp"},
	{"i64 and b", expr.ErrType, "1:1", "and needs boolean operands, got int64"},
	{"b or\n  f64", expr.ErrType, "2:3", "or needs boolean operands, got float64"},
	{"not s", expr.ErrType, "1:5", "not needs boolean operands, got utf8"},
	{"-s", expr.ErrType, "1:1", "unary - needs a number or duration"},
	{"nope > 1", expr.ErrUnknownColumn, "1:1", "unknown column nope"},
	{"i64 + Ls", expr.ErrUnknownColumn, "1:7", "unknown column Ls (did you mean ls?)"},
	{"`weird  name` = 1", expr.ErrUnknownColumn, "1:1", "unknown column `weird  name`"},
	{"i64 > 'a'", expr.ErrType, "1:5", "cannot compare int64 > utf8"},
	{"ts = '2001-01-01'", expr.ErrType, "1:4", "cannot compare timestamp[us] = utf8"},
	{"b = 1", expr.ErrType, "1:3", "cannot compare bool = int64"},
	{"cast(i64 as foo)", expr.ErrType, "1:13", `unknown type "foo" in cast`},
	{"cast(ts as float64)", expr.ErrType, "1:1", "cannot cast timestamp[us] to float64"},
	{"cast(dur as string)", expr.ErrType, "1:1", "cannot cast duration[ms] to string"},
	{"if(b, 1)", expr.ErrType, "1:1", "if takes 3 arguments, got 2"},
	{"if(i64, 1, 2)", expr.ErrType, "1:4", "if needs boolean operands, got int64"},
	{"if(b, 1, 'a')", expr.ErrType, "1:10", "if branches: type mismatch: int64 and utf8"},
	{"starts_with(i64, 'a')", expr.ErrType, "1:13", "starts_with needs strings, got int64"},
	{"contains(s)", expr.ErrType, "1:1", "contains takes 2 arguments, got 1"},
	{"concat(s, i64)", expr.ErrType, "1:11", "concat needs strings, got int64"},
	{"concat()", expr.ErrType, "1:1", "concat takes at least 1 argument"},
	{"frob(1)", expr.ErrType, "1:1", `unknown function "frob"`},
	{"i64 in (1, j64)", expr.ErrType, "1:12", "the values of in (...) must be constants"},
	{"i64 in (1, 'a')", expr.ErrType, "1:12", "in: type mismatch: int64 and utf8"},
	{"case when i64 then 1 end", expr.ErrType, "1:11", "when needs boolean operands, got int64"},
	{"case when b then 1 else 'x' end", expr.ErrType, "1:25", "case branches: type mismatch"},
	{"coalesce()", expr.ErrType, "1:1", "coalesce takes at least 1 argument"},
	{"coalesce(i64, s)", expr.ErrType, "1:15", "coalesce: type mismatch: int64 and utf8"},
	{"abs(s)", expr.ErrType, "1:5", "abs needs a number, got utf8"},
	// constant parts run at compile time: their failures are located too
	{"cast('x' as int64)", expr.ErrEval, "1:1", `parsing "x": invalid syntax`},
	{"i64 + cast('2001-02-30' as timestamp) > 0", expr.ErrEval, "1:7", "not RFC 3339"},
}

func TestCompileErrors(t *testing.T) {
	for _, list := range [][]errCase{syntaxErrors, typeErrors} {
		for _, tc := range list {
			_, err := expr.Compile(tc.src, testSchema)
			if err == nil {
				t.Errorf("Compile(%q): no error", tc.src)
				continue
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("Compile(%q): %v, want %v", tc.src, err, tc.kind)
			}
			var e *expr.Error
			if !errors.As(err, &e) {
				t.Errorf("Compile(%q): %T is not *expr.Error", tc.src, err)
				continue
			}
			if !strings.HasPrefix(e.Pos.String(), tc.pos) {
				t.Errorf("Compile(%q): at %s, want %s (%v)", tc.src, e.Pos, tc.pos, err)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "expr: "+e.Pos.String()+": ") {
				t.Errorf("Compile(%q): %q, want it to contain %q", tc.src, err, tc.msg)
			}
		}
	}
	// Parse reports syntax errors alone, with the byte offset too.
	_, err := expr.Parse("i64 +\n  )")
	var e *expr.Error
	if !errors.As(err, &e) || e.Pos != (expr.Pos{Offset: 8, Line: 2, Col: 3}) {
		t.Errorf("Parse: %v at %+v", err, e)
	}
}

func TestEvalErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	bt := newBatch(t, mem, 5, 100)
	defer bt.rec.Release()
	for _, src := range []string{"cast(s as int64)", "cast(ls as timestamp) > timestamp '2001-01-01'", "cast(s as bool) or b", "if(b, cast(ls as float64), 0.0)"} {
		x := expr.MustCompile(src, testSchema)
		out, err := x.Eval(context.Background(), bt.rec, mem)
		if err == nil {
			out.Release()
			t.Errorf("Eval(%q): no error", src)
			continue
		}
		if !errors.Is(err, expr.ErrEval) {
			t.Errorf("Eval(%q): %v does not wrap ErrEval", src, err)
		}
	}
}

// TestConcurrentEval: one Expr, many goroutines (run with -race).
func TestConcurrentEval(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	bt := newBatch(t, mem, 6, 2000)
	defer bt.rec.Release()
	x := expr.MustCompile("case when starts_with(ls, 'A') then i64 / j64 when s in ('B', 'BA') then coalesce(i32, 7) end", testSchema)
	first, err := x.Eval(context.Background(), bt.rec, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 20; k++ {
				out, err := x.Eval(context.Background(), bt.rec, mem)
				if err != nil {
					t.Error(err)
					return
				}
				for i := 0; i < out.Len(); i++ {
					if !sameValue(goValue(out, i), goValue(first, i)) {
						t.Errorf("row %d differs between goroutines", i)
						break
					}
				}
				out.Release()
			}
		}()
	}
	wg.Wait()
}

package expr_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/expr"
)

// ref computes the expected value of row i in plain Go over the batch's Go
// slices: nil for null, else int64, float64, string or bool (see goValue).
type ref func(b *batch, i int) any

type tcase struct {
	src string
	typ string // the result type, as arrow prints it
	ref ref
}

// Reference helpers: null in, null out.

func ii(x, y string, f func(a, b int64) any) ref {
	return func(b *batch, i int) any {
		a, ok1 := b.I(x, i)
		c, ok2 := b.I(y, i)
		if !ok1 || !ok2 {
			return nil
		}
		return f(a, c)
	}
}

func i1(x string, f func(a int64) any) ref {
	return func(b *batch, i int) any {
		a, ok := b.I(x, i)
		if !ok {
			return nil
		}
		return f(a)
	}
}

func ff(x, y string, f func(a, b float64) any) ref {
	return func(b *batch, i int) any {
		a, ok1 := b.F(x, i)
		c, ok2 := b.F(y, i)
		if !ok1 || !ok2 {
			return nil
		}
		return f(a, c)
	}
}

func f1(x string, f func(a float64) any) ref {
	return func(b *batch, i int) any {
		a, ok := b.F(x, i)
		if !ok {
			return nil
		}
		return f(a)
	}
}

func ss(x, y string, f func(a, b string) any) ref {
	return func(b *batch, i int) any {
		a, ok1 := b.S(x, i)
		c, ok2 := b.S(y, i)
		if !ok1 || !ok2 {
			return nil
		}
		return f(a, c)
	}
}

func s1(x string, f func(a string) any) ref {
	return func(b *batch, i int) any {
		a, ok := b.S(x, i)
		if !ok {
			return nil
		}
		return f(a)
	}
}

func bb(x, y string, f func(a, b bool) any) ref {
	return func(b *batch, i int) any {
		a, ok1 := b.B(x, i)
		c, ok2 := b.B(y, i)
		if !ok1 || !ok2 {
			return nil
		}
		return f(a, c)
	}
}

func b1(x string, f func(a bool) any) ref {
	return func(b *batch, i int) any {
		a, ok := b.B(x, i)
		if !ok {
			return nil
		}
		return f(a)
	}
}

func constant(v any) ref { return func(*batch, int) any { return v } }

// SQL three-valued logic, written out.
func and3(x, y any) any {
	if x == false || y == false {
		return false
	}
	if x == nil || y == nil {
		return nil
	}
	return true
}

func or3(x, y any) any {
	if x == true || y == true {
		return true
	}
	if x == nil || y == nil {
		return nil
	}
	return false
}

func not3(x any) any {
	if x == nil {
		return nil
	}
	return !x.(bool)
}

// in3 is SQL's x IN (list): null if x is null, or if x is not found and
// the list holds a null.
func in3[T comparable](x T, ok bool, list []T, listHasNull bool) any {
	switch {
	case !ok:
		return nil
	case slices.Contains(list, x):
		return true
	case listHasNull:
		return nil
	}
	return false
}

func boolOf(b *batch, name string, i int) any {
	v, ok := b.B(name, i)
	if !ok {
		return nil
	}
	return v
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

func b2i(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

const (
	us = int64(1e6) // microseconds per second
	ns = int64(1e9)
)

var cases = []tcase{
	// arithmetic and numeric promotion
	{"i64 + j64", "int64", ii("i64", "j64", func(a, b int64) any { return a + b })},
	{"i64 - i32", "int64", ii("i64", "i32", func(a, b int64) any { return a - b })},
	{"i8 * u16", "int64", ii("i8", "u16", func(a, b int64) any { return a * b })},
	{"u64 - 500", "int64", i1("u64", func(a int64) any { return a - 500 })},
	{"i64 / j64", "int64", ii("i64", "j64", func(a, b int64) any {
		if b == 0 {
			return nil
		}
		return a / b
	})},
	{"i64 % j64", "int64", ii("i64", "j64", func(a, b int64) any {
		if b == 0 {
			return nil
		}
		return a % b
	})},
	{"i64 / 7", "int64", i1("i64", func(a int64) any { return a / 7 })},
	{"i64 % -3", "int64", i1("i64", func(a int64) any { return a % -3 })},
	{"100 / j64", "int64", i1("j64", func(b int64) any {
		if b == 0 {
			return nil
		}
		return 100 / b
	})},
	{"i64 / 0", "int64", constant(nil)},
	{"i64 / (2 - 2)", "int64", constant(nil)},
	{"f64 / g64", "float64", ff("f64", "g64", func(a, b float64) any {
		if b == 0 {
			return nil
		}
		return a / b
	})},
	{"f64 % g64", "float64", ff("f64", "g64", func(a, b float64) any {
		if b == 0 {
			return nil
		}
		return math.Mod(a, b)
	})},
	{"f64 / 0.0", "float64", constant(nil)},
	{"i64 / 2.0", "float64", f1("i64", func(a float64) any { return a / 2 })},
	{"i64 * 1.5 + f64", "float64", ff("i64", "f64", func(a, b float64) any { return float64(a*1.5) + b })},
	{"f32 + 0.5", "float64", f1("f32", func(a float64) any { return a + 0.5 })},
	{"f32 * i32 - g64", "float64", func(b *batch, i int) any {
		x, ok1 := b.F("f32", i)
		y, ok2 := b.F("i32", i)
		z, ok3 := b.F("g64", i)
		if !ok1 || !ok2 || !ok3 {
			return nil
		}
		return float64(x*y) - z
	}},
	{"-i64", "int64", i1("i64", func(a int64) any { return -a })},
	{"-i8 * 2", "int64", i1("i8", func(a int64) any { return -a * 2 })},
	{"-f64", "float64", f1("f64", func(a float64) any { return -a })},
	{"- -u16", "int64", i1("u16", func(a int64) any { return a })},
	{"abs(i32)", "int64", i1("i32", func(a int64) any { return max(a, -a) })},
	{"abs(f64)", "float64", f1("f64", func(a float64) any { return math.Abs(a) })},
	{"i64 + null", "int64", constant(nil)},
	// fused programs (several operations in one pass), with nulls made inside
	{"(i64 % j64) * 2 + i8 / j64", "int64", func(b *batch, i int) any {
		x, ok1 := b.I("i64", i)
		y, ok2 := b.I("j64", i)
		z, ok3 := b.I("i8", i)
		if !ok1 || !ok2 || !ok3 || y == 0 {
			return nil
		}
		return (x%y)*2 + z/y
	}},
	{"abs(i64 - j64) / (j64 + 1)", "int64", ii("i64", "j64", func(a, b int64) any {
		if b+1 == 0 {
			return nil
		}
		return max(a-b, b-a) / (b + 1)
	})},
	{"-(f64 / g64) + f32 % 2.5", "float64", func(b *batch, i int) any {
		x, ok1 := b.F("f64", i)
		y, ok2 := b.F("g64", i)
		z, ok3 := b.F("f32", i)
		if !ok1 || !ok2 || !ok3 || y == 0 {
			return nil
		}
		return -(x / y) + math.Mod(z, 2.5)
	}},
	{"(i64 + 1) / 0", "int64", constant(nil)},
	{"(f64 + 1) % 0.0", "float64", constant(nil)},
	{"100 - i64 * 2", "int64", i1("i64", func(a int64) any { return 100 - a*2 })},
	{"7 % (j64 - 1) + 1", "int64", i1("j64", func(a int64) any {
		if a-1 == 0 {
			return nil
		}
		return 7%(a-1) + 1
	})},
	{"1.5 / (g64 + 0) - 1", "float64", f1("g64", func(a float64) any {
		if a == 0 {
			return nil
		}
		return 1.5/a - 1
	})},
	{"-cast(i32 as float64) + abs(i8 - 0.5)", "float64", ff("i32", "i8", func(a, b float64) any { return -a + math.Abs(b-0.5) })},
	{"(u16 + i8) * 0.5 / i32", "float64", func(b *batch, i int) any {
		x, ok1 := b.F("u16", i)
		y, ok2 := b.F("i8", i)
		z, ok3 := b.F("i32", i)
		if !ok1 || !ok2 || !ok3 || z == 0 {
			return nil
		}
		return float64((x+y)*0.5) / z
	}},
	{"if(b, i64, u16) * 2 - u64", "int64", func(b *batch, i int) any {
		col := "u16"
		if boolOf(b, "b", i) == true {
			col = "i64"
		}
		x, ok1 := b.I(col, i)
		y, ok2 := b.I("u64", i)
		if !ok1 || !ok2 {
			return nil
		}
		return x*2 - y
	}},
	{"1 + 2 * 3 - 8 / 3 % 2", "int64", constant(int64(7 - 8/3%2))},
	{"`weird name` * 2", "int64", i1("weird name", func(a int64) any { return a * 2 })},

	// comparisons
	{"i64 = j64", "bool", ii("i64", "j64", func(a, b int64) any { return a == b })},
	{"i64 != 5", "bool", i1("i64", func(a int64) any { return a != 5 })},
	{"i32 < j64", "bool", ii("i32", "j64", func(a, b int64) any { return a < b })},
	{"i8 <= 2", "bool", i1("i8", func(a int64) any { return a <= 2 })},
	{"i8 > 1000", "bool", i1("i8", func(a int64) any { return false })},
	{"i8 <> -1", "bool", i1("i8", func(a int64) any { return a != -1 })},
	{"u64 >= 500", "bool", i1("u64", func(a int64) any { return a >= 500 })},
	{"u16 < 100.5", "bool", i1("u16", func(a int64) any { return float64(a) < 100.5 })},
	{"f64 > i64", "bool", ff("f64", "i64", func(a, b float64) any { return a > b })},
	{"f32 >= 0.25", "bool", f1("f32", func(a float64) any { return a >= 0.25 })},
	{"f32 = 0.1", "bool", f1("f32", func(a float64) any { return a == 0.1 })},
	{"g64 == 0", "bool", f1("g64", func(a float64) any { return a == 0 })},
	{"s = 'AB'", "bool", s1("s", func(a string) any { return a == "AB" })},
	{"ls != \"AB\"", "bool", s1("ls", func(a string) any { return a != "AB" })},
	{"s < ls", "bool", ss("s", "ls", func(a, b string) any { return a < b })},
	{"ls >= 'B'", "bool", s1("ls", func(a string) any { return a >= "B" })},
	{"s = ls", "bool", ss("s", "ls", func(a, b string) any { return a == b })},
	{"ls <= 'héllo'", "bool", s1("ls", func(a string) any { return a <= "héllo" })},
	{"b = c", "bool", bb("b", "c", func(a, b bool) any { return a == b })},
	{"b != true", "bool", b1("b", func(a bool) any { return !a })},
	{"b < c", "bool", bb("b", "c", func(a, b bool) any { return b2i(a) < b2i(b) })},
	{"b >= c", "bool", bb("b", "c", func(a, b bool) any { return b2i(a) >= b2i(b) })},
	{"i64 = null", "bool", constant(nil)},

	// timestamps, dates, durations
	{"ts > timestamp '2001-01-02T00:00:00Z'", "bool", i1("ts", func(a int64) any { return a > (sec2001+86400)*us })},
	{"ts > timestamp '2001-01-02T03:04:05.5Z'", "bool", i1("ts", func(a int64) any { return a > (sec2001+86400+3*3600+4*60+5)*us+us/2 })},
	{"tss < timestamp '2001-01-02 03:04:05.5'", "bool", i1("tss", func(a int64) any { return a*1000 < (sec2001+86400+3*3600+4*60+5)*1000+500 })},
	{"tss >= timestamp '2001-01-02'", "bool", i1("tss", func(a int64) any { return a >= sec2001+86400 })},
	{"ts <= tsn", "bool", ii("ts", "tsn", func(a, b int64) any { return a*1000 <= b })},
	{"tss = ts", "bool", ii("tss", "ts", func(a, b int64) any { return a*us == b })},
	{"d32 < ts", "bool", ii("d32", "ts", func(a, b int64) any { return a*86400*us < b })},
	{"d32 = date '2001-01-03'", "bool", i1("d32", func(a int64) any { return a == day2001+2 })},
	{"d32 >= timestamp '2001-01-02T12:00:00Z'", "bool", i1("d32", func(a int64) any { return a*86400 >= sec2001+86400+43200 })},
	{"tsn - ts", "duration[ns]", ii("tsn", "ts", func(a, b int64) any { return a - b*1000 })},
	{"ts - tss", "duration[us]", ii("ts", "tss", func(a, b int64) any { return a - b*us })},
	{"ts + duration '90m'", "timestamp[us]", i1("ts", func(a int64) any { return a + 5400*us })},
	{"duration '90m' + ts", "timestamp[us]", i1("ts", func(a int64) any { return a + 5400*us })},
	{"ts - duration '1ms'", "timestamp[us]", i1("ts", func(a int64) any { return a - 1000 })},
	{"tss + duration '1ms'", "timestamp[ms]", i1("tss", func(a int64) any { return a*1000 + 1 })},
	{"tsn + dur", "timestamp[ns, tz=UTC]", ii("tsn", "dur", func(a, b int64) any { return a + b*1e6 })},
	{"ts - timestamp '2001-01-01'", "duration[us]", i1("ts", func(a int64) any { return a - sec2001*us })},
	{"dur > duration '1s'", "bool", i1("dur", func(a int64) any { return a > 1000 })},
	{"dur + dur", "duration[ms]", i1("dur", func(a int64) any { return 2 * a })},
	{"-dur", "duration[ms]", i1("dur", func(a int64) any { return -a })},

	// logic, null tests
	{"b and c", "bool", func(b *batch, i int) any { return and3(boolOf(b, "b", i), boolOf(b, "c", i)) }},
	{"b or c", "bool", func(b *batch, i int) any { return or3(boolOf(b, "b", i), boolOf(b, "c", i)) }},
	{"not b", "bool", func(b *batch, i int) any { return not3(boolOf(b, "b", i)) }},
	{"b AND i64 > 0", "bool", func(b *batch, i int) any {
		return and3(boolOf(b, "b", i), i1("i64", func(a int64) any { return a > 0 })(b, i))
	}},
	{"not (b or c) and i8 > 0", "bool", func(b *batch, i int) any {
		return and3(not3(or3(boolOf(b, "b", i), boolOf(b, "c", i))), i1("i8", func(a int64) any { return a > 0 })(b, i))
	}},
	{"not b = c", "bool", func(b *batch, i int) any { return not3(bb("b", "c", func(x, y bool) any { return x == y })(b, i)) }},
	{"b and null", "bool", func(b *batch, i int) any { return and3(boolOf(b, "b", i), nil) }},
	{"c or null", "bool", func(b *batch, i int) any { return or3(boolOf(b, "c", i), nil) }},
	{"i64 is null", "bool", func(b *batch, i int) any { _, ok := b.I("i64", i); return !ok }},
	{"ls is not null", "bool", func(b *batch, i int) any { _, ok := b.S("ls", i); return ok }},
	{"not f64 is null", "bool", func(b *batch, i int) any { _, ok := b.F("f64", i); return ok }},
	{"null is null", "bool", constant(true)},

	// in
	{"i64 in (1, 2, 3)", "bool", func(b *batch, i int) any { v, ok := b.I("i64", i); return in3(v, ok, []int64{1, 2, 3}, false) }},
	{"i8 in (1, -1, 300)", "bool", func(b *batch, i int) any { v, ok := b.I("i8", i); return in3(v, ok, []int64{1, -1, 300}, false) }},
	{"i64 in (1, null)", "bool", func(b *batch, i int) any { v, ok := b.I("i64", i); return in3(v, ok, []int64{1}, true) }},
	{"i64 not in (1, null)", "bool", func(b *batch, i int) any {
		v, ok := b.I("i64", i)
		return not3(in3(v, ok, []int64{1}, true))
	}},
	{"i32 not in (5, -5, 0)", "bool", func(b *batch, i int) any { v, ok := b.I("i32", i); return not3(in3(v, ok, []int64{5, -5, 0}, false)) }},
	{"s in ('A', 'AB')", "bool", func(b *batch, i int) any { v, ok := b.S("s", i); return in3(v, ok, []string{"A", "AB"}, false) }},
	{"ls not in ('A', 'B', 'héllo')", "bool", func(b *batch, i int) any {
		v, ok := b.S("ls", i)
		return not3(in3(v, ok, []string{"A", "B", "héllo"}, false))
	}},
	{"f64 in (1, 2.0, -3)", "bool", func(b *batch, i int) any { v, ok := b.F("f64", i); return in3(v, ok, []float64{1, 2, -3}, false) }},
	{"b in (true)", "bool", func(b *batch, i int) any { v, ok := b.B("b", i); return in3(v, ok, []bool{true}, false) }},
	{"d32 in (date '2001-01-01', date '2001-01-03')", "bool", func(b *batch, i int) any {
		v, ok := b.I("d32", i)
		return in3(v, ok, []int64{day2001, day2001 + 2}, false)
	}},
	{"tss in (timestamp '2001-01-02', timestamp '2001-01-02T00:00:01Z')", "bool", func(b *batch, i int) any {
		v, ok := b.I("tss", i)
		return in3(v, ok, []int64{sec2001 + 86400, sec2001 + 86401}, false)
	}},

	// string functions
	{"starts_with(s, 'AB')", "bool", s1("s", func(a string) any { return strings.HasPrefix(a, "AB") })},
	{"starts_with(ls, 'A')", "bool", s1("ls", func(a string) any { return strings.HasPrefix(a, "A") })},
	{"ends_with(ls, 'B')", "bool", s1("ls", func(a string) any { return strings.HasSuffix(a, "B") })},
	{"ends_with(s, '')", "bool", s1("s", func(a string) any { return true })},
	{"contains(s, 'A')", "bool", s1("s", func(a string) any { return strings.Contains(a, "A") })},
	{"contains(ls, 'é')", "bool", s1("ls", func(a string) any { return strings.Contains(a, "é") })},
	{"starts_with(ls, s)", "bool", ss("ls", "s", func(a, b string) any { return strings.HasPrefix(a, b) })},
	{"contains('xABC', s)", "bool", s1("s", func(a string) any { return strings.Contains("xABC", a) })},
	{"STARTS_WITH(s, null)", "bool", constant(nil)},
	{"concat(s, '-', s)", "utf8", s1("s", func(a string) any { return a + "-" + a })},
	{"concat(ls, s)", "large_utf8", ss("ls", "s", func(a, b string) any { return a + b })},
	{"concat(s)", "utf8", s1("s", func(a string) any { return a })},
	{"concat('a', 'b')", "utf8", constant("ab")},
	{"concat(s, null)", "utf8", constant(nil)},

	// casts
	{"cast(f64 as int64)", "int64", f1("f64", func(a float64) any { return int64(a) })},
	{"cast(f32 as int)", "int64", f1("f32", func(a float64) any { return int64(a) })},
	{"cast(i64 as float64)", "float64", f1("i64", func(a float64) any { return a })},
	{"cast(u16 as double)", "float64", f1("u16", func(a float64) any { return a })},
	{"cast(i32 as string)", "utf8", i1("i32", func(a int64) any { return strconv.FormatInt(a, 10) })},
	{"cast(i64 as large_string)", "large_utf8", i1("i64", func(a int64) any { return strconv.FormatInt(a, 10) })},
	{"cast(f64 as string)", "utf8", f1("f64", func(a float64) any { return strconv.FormatFloat(a, 'g', -1, 64) })},
	{"cast(f32 as string)", "utf8", f1("f32", func(a float64) any { return strconv.FormatFloat(a, 'g', -1, 32) })},
	{"cast(ls as string)", "utf8", s1("ls", func(a string) any { return a })},
	{"cast(s as large_utf8)", "large_utf8", s1("s", func(a string) any { return a })},
	{"cast(b as int64)", "int64", b1("b", func(a bool) any { return b2i(a) })},
	{"cast(b as float64)", "float64", b1("b", func(a bool) any { return float64(b2i(a)) })},
	{"cast(b as string)", "utf8", b1("b", func(a bool) any { return strconv.FormatBool(a) })},
	{"cast(i8 as bool)", "bool", i1("i8", func(a int64) any { return a != 0 })},
	{"cast(g64 as boolean)", "bool", f1("g64", func(a float64) any { return a != 0 })},
	{"cast(cast(i64 as string) as int64)", "int64", i1("i64", func(a int64) any { return a })},
	{"cast(cast(f64 as string) as float64)", "float64", f1("f64", func(a float64) any { return a })},
	{"cast(cast(b as string) as bool)", "bool", b1("b", func(a bool) any { return a })},
	{"cast(ts as string)", "utf8", i1("ts", func(a int64) any { return time.UnixMicro(a).UTC().Format(time.RFC3339Nano) })},
	{"cast(cast(ts as string) as timestamp)", "timestamp[us, tz=UTC]", i1("ts", func(a int64) any { return a })},
	{"cast(cast(tsn as large_string) as timestamp_ns)", "timestamp[ns, tz=UTC]", i1("tsn", func(a int64) any { return a })},
	{"cast(d32 as string)", "utf8", i1("d32", func(a int64) any { return time.Unix(a*86400, 0).UTC().Format(time.DateOnly) })},
	{"cast(ts as timestamp_s)", "timestamp[s, tz=UTC]", i1("ts", func(a int64) any { return floorDiv(a, us) })},
	{"cast(tsn as timestamp_ms)", "timestamp[ms, tz=UTC]", i1("tsn", func(a int64) any { return floorDiv(a, 1e6) })},
	{"cast(tss as timestamp)", "timestamp[us, tz=UTC]", i1("tss", func(a int64) any { return a * us })},
	{"cast(d32 as timestamp)", "timestamp[us, tz=UTC]", i1("d32", func(a int64) any { return a * 86400 * us })},
	{"cast(ts as date32)", "date32", i1("ts", func(a int64) any { return floorDiv(a, 86400*us) })},
	{"cast(cast(ts as string) as date32)", "date32", i1("ts", func(a int64) any { return floorDiv(a, 86400*us) })},
	{"cast(i64 as timestamp)", "timestamp[us, tz=UTC]", i1("i64", func(a int64) any { return a })},
	{"cast(ts as int64)", "int64", i1("ts", func(a int64) any { return a })},
	{"cast(d32 as int64)", "int64", i1("d32", func(a int64) any { return a })},
	{"cast(dur as int64)", "int64", i1("dur", func(a int64) any { return a })},
	{"cast(null as float64)", "float64", constant(nil)},
	{"cast('2001-01-02 03:00:00' as timestamp_s)", "timestamp[s, tz=UTC]", constant(sec2001 + 86400 + 3*3600)},

	// conditionals
	{"if(b, i64, j64)", "int64", func(b *batch, i int) any {
		if boolOf(b, "b", i) == true {
			return i1("i64", func(a int64) any { return a })(b, i)
		}
		return i1("j64", func(a int64) any { return a })(b, i)
	}},
	{"if(i64 > 0, 'pos', s)", "utf8", func(b *batch, i int) any {
		if v, ok := b.I("i64", i); ok && v > 0 {
			return "pos"
		}
		return s1("s", func(a string) any { return a })(b, i)
	}},
	{"if(c, ls, s)", "large_utf8", func(b *batch, i int) any {
		if boolOf(b, "c", i) == true {
			return s1("ls", func(a string) any { return a })(b, i)
		}
		return s1("s", func(a string) any { return a })(b, i)
	}},
	{"if(b, f64, i8)", "float64", func(b *batch, i int) any {
		if boolOf(b, "b", i) == true {
			return f1("f64", func(a float64) any { return a })(b, i)
		}
		return f1("i8", func(a float64) any { return a })(b, i)
	}},
	{"if(b, ts, tss)", "timestamp[us]", func(b *batch, i int) any {
		if boolOf(b, "b", i) == true {
			return i1("ts", func(a int64) any { return a })(b, i)
		}
		return i1("tss", func(a int64) any { return a * us })(b, i)
	}},
	{"if(b, c, null)", "bool", func(b *batch, i int) any {
		if boolOf(b, "b", i) == true {
			return boolOf(b, "c", i)
		}
		return nil
	}},
	{"if(c, d32, date '2001-01-01')", "date32", func(b *batch, i int) any {
		if boolOf(b, "c", i) == true {
			return i1("d32", func(a int64) any { return a })(b, i)
		}
		return int64(day2001)
	}},
	{"if(true, i32, 0)", "int32", i1("i32", func(a int64) any { return a })},
	{"case when i64 > 50 then 'big' when i64 > 0 then 'small' else ls end", "large_utf8", func(b *batch, i int) any {
		v, ok := b.I("i64", i)
		switch {
		case ok && v > 50:
			return "big"
		case ok && v > 0:
			return "small"
		}
		return s1("ls", func(a string) any { return a })(b, i)
	}},
	{"case when b then 1 end", "int64", func(b *batch, i int) any {
		if boolOf(b, "b", i) == true {
			return int64(1)
		}
		return nil
	}},
	{"CASE WHEN b THEN f32 WHEN c THEN i8 ELSE 0 END", "float64", func(b *batch, i int) any {
		switch {
		case boolOf(b, "b", i) == true:
			return f1("f32", func(a float64) any { return a })(b, i)
		case boolOf(b, "c", i) == true:
			return f1("i8", func(a float64) any { return a })(b, i)
		}
		return 0.0
	}},
	{"coalesce(i64, j64, 0)", "int64", func(b *batch, i int) any {
		if v, ok := b.I("i64", i); ok {
			return v
		}
		if v, ok := b.I("j64", i); ok {
			return v
		}
		return int64(0)
	}},
	{"coalesce(s, ls)", "large_utf8", func(b *batch, i int) any {
		if v, ok := b.S("s", i); ok {
			return v
		}
		return s1("ls", func(a string) any { return a })(b, i)
	}},
	{"coalesce(b, c)", "bool", func(b *batch, i int) any {
		if v := boolOf(b, "b", i); v != nil {
			return v
		}
		return boolOf(b, "c", i)
	}},
	{"coalesce(tss, ts)", "timestamp[us]", func(b *batch, i int) any {
		if v, ok := b.I("tss", i); ok {
			return v * us
		}
		return i1("ts", func(a int64) any { return a })(b, i)
	}},
	{"coalesce(null, f32)", "float32", f1("f32", func(a float64) any { return a })},

	// bare columns and constants
	{"i8", "int8", i1("i8", func(a int64) any { return a })},
	{"ls", "large_utf8", s1("ls", func(a string) any { return a })},
	{"'const'", "utf8", constant("const")},
	{"'a' = 'a' and not false", "bool", constant(true)},
	{"null", "null", constant(nil)},
}

func TestEvalAgainstRowByRow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := context.Background()

	compiled := make([]*expr.Expr, len(cases))
	for k, tc := range cases {
		x, err := expr.Compile(tc.src, testSchema)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tc.src, err)
		}
		if got := x.Type().String(); got != tc.typ {
			t.Errorf("%q: Type() = %s, want %s", tc.src, got, tc.typ)
		}
		compiled[k] = x
	}
	for _, seed := range []uint64{1, 2, 3} {
		for _, n := range []int{4099, 1, 0} {
			bt := newBatch(t, mem, seed, n)
			views := []struct {
				name string
				off  int
				rec  arrow.RecordBatch
			}{{"full", 0, bt.rec}}
			if n > 10 {
				// a slice with an odd offset: bitmaps not byte aligned
				views = append(views, struct {
					name string
					off  int
					rec  arrow.RecordBatch
				}{"slice", 7, bt.rec.NewSlice(7, int64(n-3))})
			}
			for _, v := range views {
				for k, tc := range cases {
					out, err := compiled[k].Eval(ctx, v.rec, mem)
					if err != nil {
						t.Fatalf("seed %d n %d %s: Eval(%q): %v", seed, n, v.name, tc.src, err)
					}
					if out.Len() != int(v.rec.NumRows()) {
						t.Fatalf("%q: %d rows, want %d", tc.src, out.Len(), v.rec.NumRows())
					}
					bad := 0
					for i := 0; i < out.Len(); i++ {
						got, want := goValue(out, i), tc.ref(bt, v.off+i)
						if !sameValue(got, want) {
							if bad++; bad <= 3 {
								t.Errorf("seed %d %s %q row %d: got %s, want %s", seed, v.name, tc.src, v.off+i, show(got), show(want))
							}
						}
					}
					out.Release()
				}
				if v.off != 0 {
					v.rec.Release()
				}
			}
			bt.rec.Release()
		}
	}
}

// TestEveryOperatorCovered keeps the table honest: each operator and
// function of the language appears in some case.
func TestEveryOperatorCovered(t *testing.T) {
	var all strings.Builder
	for _, tc := range cases {
		all.WriteString(strings.ToLower(tc.src) + "\n")
	}
	for _, op := range []string{" + ", " - ", " * ", " / ", " % ", "-i", " = ", " != ", " <> ", " == ", " < ", " <= ", " > ", " >= ",
		" and ", " or ", "not ", " is null", " is not null", " in (", " not in (", "starts_with(", "ends_with(", "contains(",
		"cast(", "if(", "case when", " else ", "coalesce(", "abs(", "timestamp '", "date '", "duration '", "null", "true", "false",
		"`", "\"", "as int64", "as float64", "as string", "as large_string", "as bool", "as timestamp", "as date32", "as timestamp_s",
		"as timestamp_ms", "as timestamp_ns"} {
		if !strings.Contains(all.String(), op) {
			t.Errorf("no test case uses %q", op)
		}
	}
}

func TestMaskAndFilter(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	bt := newBatch(t, mem, 9, 3001)
	defer bt.rec.Release()

	x := expr.MustCompile("b and i64 > 0", testSchema)
	want := func(i int) bool {
		return and3(boolOf(bt, "b", i), i1("i64", func(a int64) any { return a > 0 })(bt, i)) == true
	}

	mask, err := x.Mask(ctx, bt.rec, mem)
	if err != nil {
		t.Fatal(err)
	}
	if mask.NullN() != 0 {
		t.Errorf("mask has %d nulls", mask.NullN())
	}
	var rows []int
	for i := 0; i < bt.n; i++ {
		if mask.Value(i) != want(i) {
			t.Fatalf("mask row %d = %v, want %v", i, mask.Value(i), want(i))
		}
		if want(i) {
			rows = append(rows, i)
		}
	}
	mask.Release()

	out, err := x.Filter(ctx, bt.rec, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	if int(out.NumRows()) != len(rows) || out.NumCols() != bt.rec.NumCols() {
		t.Fatalf("Filter: %d rows x %d cols, want %d x %d", out.NumRows(), out.NumCols(), len(rows), bt.rec.NumCols())
	}
	ls := out.Column(12).(*array.LargeString)
	i64 := out.Column(2).(*array.Int64)
	for k, i := range rows {
		if v, _ := bt.I("i64", i); i64.Value(k) != v {
			t.Fatalf("filtered i64 row %d = %d, want %d", k, i64.Value(k), v)
		}
		if v, ok := bt.S("ls", i); ls.IsValid(k) != ok || ok && ls.Value(k) != v {
			t.Fatalf("filtered ls row %d = %q, want %q", k, ls.Value(k), v)
		}
	}

	// all rows kept: the batch itself; none kept: empty
	all, err := expr.MustCompile("true or b", testSchema).Filter(ctx, bt.rec, mem)
	if err != nil {
		t.Fatal(err)
	}
	if all.NumRows() != bt.rec.NumRows() {
		t.Errorf("true filter kept %d of %d rows", all.NumRows(), bt.rec.NumRows())
	}
	all.Release()
	none, err := expr.MustCompile("i64 > 1000 and b", testSchema).Filter(ctx, bt.rec, mem)
	if err != nil {
		t.Fatal(err)
	}
	if none.NumRows() != 0 {
		t.Errorf("false filter kept %d rows", none.NumRows())
	}
	none.Release()
	nul, err := expr.MustCompile("null and b", testSchema).Mask(ctx, bt.rec, mem)
	if err != nil {
		t.Fatal(err)
	}
	if n := nul.Len(); n != bt.n || nul.NullN() != 0 {
		t.Errorf("null mask: len %d nulls %d", n, nul.NullN())
	}
	nul.Release()

	if _, err := expr.MustCompile("i64 + 1", testSchema).Filter(ctx, bt.rec, mem); err == nil {
		t.Error("Filter on an int64 expression: no error")
	}
}

func TestColumnsAndSchemaChecks(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	x := expr.MustCompile("if(b, i64 + `weird name`, i64 * 2) > 0 and starts_with(ls, 'A')", testSchema)
	if got, want := x.Columns(), []string{"b", "i64", "weird name", "ls"}; !slices.Equal(got, want) {
		t.Errorf("Columns() = %q, want %q", got, want)
	}
	if got := expr.MustCompile("1 + 2", testSchema).Columns(); len(got) != 0 {
		t.Errorf("constant: Columns() = %q", got)
	}

	// A batch with the columns in another order (and extra ones) works.
	small := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.PrimitiveTypes.Int64},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(mem, small)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{10, 20}, nil)
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	y := expr.MustCompile("i64 * 2", testSchema)
	out, err := y.Eval(ctx, rec, mem)
	if err != nil {
		t.Fatal(err)
	}
	if v := out.(*array.Int64).Int64Values(); !slices.Equal(v, []int64{20, 40}) {
		t.Errorf("got %v", v)
	}
	out.Release()

	// A missing column or a different type is an error, not a panic.
	if _, err := x.Eval(ctx, rec, mem); !errors.Is(err, expr.ErrUnknownColumn) {
		t.Errorf("missing column: %v", err)
	}
	other := arrow.NewSchema([]arrow.Field{{Name: "i64", Type: arrow.PrimitiveTypes.Int32}}, nil)
	ob := array.NewRecordBuilder(mem, other)
	ob.Field(0).(*array.Int32Builder).Append(1)
	orec := ob.NewRecordBatch()
	ob.Release()
	defer orec.Release()
	if _, err := y.Eval(ctx, orec, mem); !errors.Is(err, expr.ErrSchema) {
		t.Errorf("wrong type: %v", err)
	}

	// Cancellation.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := y.Eval(cctx, rec, mem); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestDivisionByConstants: integer / and % by a constant divide without a
// hardware divide (multiply and shift); check them against Go's operators
// at the edges of int64.
func TestDivisionByConstants(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(3, 4))
	nums := []int64{0, 1, -1, 2, -2, 99, 100, 101, -99, -100, -101, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1}
	for range 3000 {
		nums = append(nums, int64(r.Uint64()), r.Int64N(1<<20)-1<<19)
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	b.Field(0).(*array.Int64Builder).AppendValues(nums, nil)
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	divisors := []int64{1, -1, 2, -2, 3, -3, 7, 10, -10, 100, 1000, 1 << 20, -(1 << 40), 641, 6700417,
		math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1, 1<<62 + 1}
	for range 40 {
		divisors = append(divisors, int64(r.Uint64()), r.Int64N(1000)+2, -(r.Int64N(1000) + 2))
	}
	for _, d := range divisors {
		for _, op := range []string{"/", "%"} {
			// alone (one kernel) and inside a fused program
			for _, form := range []string{"n %s %d", "(n + 0) %s %d * 1"} {
				src := fmt.Sprintf(form, op, d)
				out, err := expr.MustCompile(src, schema).Eval(context.Background(), rec, mem)
				if err != nil {
					t.Fatalf("%s: %v", src, err)
				}
				got := out.(*array.Int64)
				for i, n := range nums {
					want := n / d
					if op == "%" {
						want = n % d
					}
					if got.IsNull(i) || got.Value(i) != want {
						t.Fatalf("%s with n = %d: got %v, want %d", src, n, goValue(got, i), want)
					}
				}
				out.Release()
			}
		}
	}
}

// TestFilterAllTypes compares Filter, which gathers each column with its
// own loops, with arrow-go's FilterRecordBatch, on every column type of
// the test batch, whole and sliced at an odd offset.
func TestFilterAllTypes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	bt := newBatch(t, mem, 12, 5003)
	defer bt.rec.Release()
	sl := bt.rec.NewSlice(7, 4000)
	defer sl.Release()
	for _, src := range []string{"b", "c or i64 > 50", "starts_with(ls, 'A') and not b", "i8 > -5"} {
		x := expr.MustCompile(src, testSchema)
		for _, rec := range []arrow.RecordBatch{bt.rec, sl} {
			got, err := x.Filter(ctx, rec, mem)
			if err != nil {
				t.Fatal(err)
			}
			mask, err := x.Mask(ctx, rec, mem)
			if err != nil {
				t.Fatal(err)
			}
			want, err := compute.FilterRecordBatch(compute.WithAllocator(ctx, mem), rec, mask, compute.DefaultFilterOptions())
			if err != nil {
				t.Fatal(err)
			}
			if !array.RecordEqual(got, want) {
				for c := 0; c < int(got.NumCols()); c++ {
					if !array.Equal(got.Column(c), want.Column(c)) {
						t.Errorf("%q offset %d: column %s differs", src, rec.Column(0).Data().Offset(), got.ColumnName(c))
					}
				}
			}
			got.Release()
			mask.Release()
			want.Release()
		}
	}
}

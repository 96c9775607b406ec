// Package expr is PCS's expression language for filters and derived
// columns, compiled to vectorized Arrow compute. The language reference,
// with tested examples, is docs/expressions.md.
//
// # Language
//
// Column references (identifiers, or `backquoted names`); literals: 42,
// 1.5, 'text' or "text", true, false, null, timestamp '2001-01-01T00:00:00Z',
// date '2001-01-01', duration '15m'; arithmetic + - * / % and unary -;
// comparisons = != < <= > >= (aliases == and <>); and, or, not with SQL's
// three-valued logic; x is [not] null; x [not] in (constants...);
// starts_with, ends_with, contains, abs, coalesce, if(cond, a, b);
// case when ... then ... [else ...] end; cast(x as int64|float64|bool|
// string|large_string|timestamp[_s|_ms|_us|_ns]|date32).
//
// Integers compute in int64 and floats in float64 (int64 op float64 is
// float64); integer division truncates toward zero; division by zero is
// null; a null operand makes a null result except for and/or, is null,
// coalesce and conditions (null is false there, as in SQL WHERE).
//
// # Use
//
// [Compile] parses and type-checks an expression against an Arrow schema
// before any row runs: an unknown column or a type mismatch is an
// [*Error] with the position (line:col). [Expr.Columns] lists the
// columns it reads, so that a PCS system can declare its reads.
// [Expr.Eval] evaluates it over a RecordBatch into an array of the same
// length; [Expr.Mask] and [Expr.Filter] apply a boolean expression as a
// filter. An Expr is immutable and safe for concurrent use.
//
//	f := expr.MustCompile("delay > 15 and distance > 0", schema)
//	d := expr.MustCompile("delay * 1.5 + distance / 100", schema)
//	kept, err := f.Filter(ctx, rec, mem) // release kept
//	col, err := d.Eval(ctx, kept, mem)   // release col
//
// # Evaluation
//
// Evaluation is column at a time, never row at a time: each operation is
// an arrow-go compute kernel (add, compare, and_kleene, is_in, cast, ...)
// or, where arrow-go v18.8.0 lacks the kernel or has a wrong one, a typed
// loop of this package over the Arrow buffers (see docs/expressions.md,
// "How it runs"). Constants stay scalars; subexpressions without columns
// are computed once by Compile. Arithmetic trees run fused, over blocks
// of 1024 rows, without a full-length intermediate per operation.
//
// # Arrow memory
//
// The rules of package pcs apply. Eval, Mask and Filter return new
// references: the caller releases them. They may share buffers with the
// input batch (a bare column reference returns that column; a filter
// that keeps every row returns the batch itself, retained); the input
// batch is only borrowed, for the duration of the call. The allocator
// passed to them (nil: memory.DefaultAllocator) allocates the results and
// every intermediate, and all intermediates are released before they
// return, so tests can check with memory.NewCheckedAllocator.
package expr

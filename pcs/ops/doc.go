// Package ops provides PCS's built-in systems, configured by expressions
// of package [github.com/pcs-dev/pcs/pcs/expr] instead of Go code: [Filter]
// soft-deletes the rows that fail a predicate and [Derive] computes a
// field from an expression.
//
// # Construction
//
// Each constructor takes the system's name (unique in its pipeline), the
// component it works on (a [pcs.AnyComponent], so its schema is known) and
// the expression source. The expression is compiled and type-checked
// against the component's schema at construction, before any row runs.
// Errors are [*Error] values naming the system and the expression;
// errors.As on them finds the [*expr.Error] with the position (line:col)
// in the expression source, and errors.Is finds the sentinel
// (expr.ErrSyntax, expr.ErrUnknownColumn, expr.ErrType, ...).
//
// # Declarations
//
// The systems declare exactly what they touch, so they join the field-level
// DAG of a pipeline like hand-written systems: they read the component
// fields that the expression references ([expr.Expr.Columns], one
// [pcs.FieldRef] each, in order of first appearance) and write pcs.Rows
// (Filter) or the derived field (Derive). Every system implicitly reads
// pcs.Rows, so a Filter is ordered after the systems registered before it
// and before those registered after it; two Derives of disjoint fields
// share a stage.
//
// # Running
//
// Run evaluates the expression over all rows of the dataset, deleted rows
// included (their results are never seen by a Filter, and a Derive writes
// whatever the expression yields there: columns keep deleted rows until
// Compact). It reads only the referenced columns, assembled into a
// RecordBatch of ds.Len() rows. Failures that a retry cannot fix (the
// dataset's component has another schema than the one the system was
// compiled against, an evaluation error on the data) are wrapped with
// [pcs.Permanent]; a cancelled context is returned as is.
//
// # Arrow memory
//
// The rules of package pcs apply. Intermediates are allocated with the
// dataset's allocator ([pcs.Dataset.Allocator]) and released before Run
// returns; the column a Derive writes is handed to the dataset with Set
// (which retains it) and the system's own reference released. Systems
// hold no Arrow memory between runs and are safe for concurrent use.
//
// # Not provided
//
// Project, Rename and Cast change a component's schema, which a Dataset
// cannot do in place; they are not provided. Derive with a field of a
// second, pre-registered component is not supported either: the target
// field belongs to the component the expression is compiled against.
package ops

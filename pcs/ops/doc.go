// Package ops provides PCS's built-in systems, configured by expressions
// of package [github.com/pcs-dev/pcs/pcs/expr] or by field names instead
// of Go code: [Filter] soft-deletes the rows that fail a predicate,
// [Derive] computes a field from an expression, [Lookup] joins rows
// against a lookup table held in a resource, [Dedupe] deletes rows whose
// key was already seen, and [Project], [Rename] and [Cast] reshape a
// component into a new one.
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
// # Keys: Lookup and Dedupe
//
// Lookup and Dedupe take key fields of the component instead of an
// expression: one or more fields of types string, large_string or any
// integer type. A key tuple compares by value within a family (strings,
// integers of any width and signedness), so an int32 field finds an int64
// table key. Nulls follow SQL: a key tuple with a null in any field never
// matches a table row and is never a duplicate of another row. Their
// construction errors are [*Error] values whose Expr describes the keys,
// "lookup(k1, k2)" or "dedupe(k1, k2)".
//
// The lookup table is a [*Table], built once from a RecordBatch by
// [NewTable] (which hashes the key tuples, rejecting duplicates) and
// inserted as a dataset resource: pcs.InsertResource(ds, table). Lookup
// reads the resource of type *Table; [LookupFrom] reads another resource
// type holding a table (type Rates struct{ *ops.Table }), so a dataset can
// carry several. The system declares Read(pcs.Resource[R]()), the key
// fields, and writes the value fields (and pcs.Rows with
// LookupOptions.Inner, which deletes rows with a missing key; the default
// leaves nulls, a left join). [LookupStats] counts looked-up and missing
// rows. Dedupe reads its key fields and writes pcs.Rows; it keeps the
// first alive row of each key tuple within one dataset (one partition)
// and remembers nothing across datasets or runs ([DedupeAcross] does).
// [LookupNamed] reads a table by name from a [Tables] resource, for
// tables that come from configuration.
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
// Lookup and Dedupe read only their key fields (and Lookup the table's
// columns); rows already deleted stay deleted and are never counted, seen
// or deleted again. A table that does not fit the system (other key
// count or key families, a missing value column or one of another type
// than its field) is a permanent run error.
//
// # Arrow memory
//
// The rules of package pcs apply. Intermediates are allocated with the
// dataset's allocator ([pcs.Dataset.Allocator]) and released before Run
// returns; the column a Derive writes is handed to the dataset with Set
// (which retains it) and the system's own reference released. Systems
// hold no Arrow memory between runs and are safe for concurrent use. A
// [Table] holds a reference to its RecordBatch until [Table.Release]:
// release it after the last dataset that holds it as a resource has run.
// Lookup's output columns are new arrays (the table's values gathered by
// row index), not slices of the table.
//
// # Writing other components
//
// [DeriveInto] and LookupOptions.Into write fields of another component
// of the same dataset than the one they read ("route.delayed = flight.delay
// > 15"), so an input component can stay exactly the input's schema while
// derived fields live in their own. A Dataset's components have fixed
// schemas, so the systems that change a schema, [Project], [Rename] and
// [Cast], return a new component next to the system that fills it (built
// on [CopyInto]: same-type columns shared without copying, others
// converted with arrow-go's cast kernel); the caller adds it to the
// pipeline and names it in the output.
//
// # State across partitions
//
// [DedupeAcross] remembers key tuples across datasets, bounded, and uses
// the dataset's [pcs.PartitionID] resource to recognise a redelivered
// partition, so replays keep the rows they kept the first time. Its state
// is in memory only.
package ops

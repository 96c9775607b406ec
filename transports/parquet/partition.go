package parquet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// HiveDefaultPartition is the directory value of a null or empty-string
// partition key, as in Hive and Spark ("<col>=__HIVE_DEFAULT_PARTITION__").
const HiveDefaultPartition = "__HIVE_DEFAULT_PARTITION__"

// partitioned is the state of a Sink made with WithPartitionBy.
type partitioned struct {
	root   string        // root directory of the tree
	base   string        // file name pattern in each directory
	schema *arrow.Schema // of the files: the sink's schema without the keys
	keys   []int         // partition columns in the sink's schema
	names  []string      // their names, escaped for paths
	data   []int         // the other columns, in order
	cfg    sinkConfig    // for the file sinks: partitionBy cleared

	open map[string]*partition // by directory relative to root ("a=1/b=x")
	next map[string]int        // next file number per directory; kept after a partition is closed
	done []string              // files of closed partitions
	tick uint64                // write counter, for least recently used
}

// partition is one open partition directory.
type partition struct {
	dir  string // relative to root, with '/'
	sink *Sink
	used uint64 // tick of the last write
}

// group is the rows of one batch that go to one directory.
type group struct {
	dir  string
	rows []int32 // nil: all rows of the batch
}

func newPartitionedSink(path string, schema *arrow.Schema, cfg sinkConfig) (*Sink, error) {
	p := &partitioned{
		root: filepath.Dir(path),
		base: filepath.Base(path),
		open: map[string]*partition{},
		next: map[string]int{},
	}
	isKey := map[int]bool{}
	for _, name := range cfg.partitionBy {
		idx := schema.FieldIndices(name)
		if len(idx) != 1 {
			return nil, fmt.Errorf("%w: partition column %q: %d columns of that name in the schema", ErrInvalidOption, name, len(idx))
		}
		if dt := schema.Field(idx[0]).Type; !partitionType(dt) {
			return nil, fmt.Errorf("%w: partition column %q has type %s (want string, large_string, integer, bool, date32, date64 or timestamp)", ErrInvalidOption, name, dt)
		}
		p.keys = append(p.keys, idx[0])
		p.names = append(p.names, escapePathName(name))
		isKey[idx[0]] = true
	}
	var fields []arrow.Field
	for i, f := range schema.Fields() {
		if !isKey[i] {
			p.data = append(p.data, i)
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: every column is a partition column: the files would have none", ErrInvalidOption)
	}
	md := schema.Metadata()
	p.schema = arrow.NewSchema(fields, &md)
	p.cfg = cfg
	p.cfg.partitionBy = nil
	// Validate the options and the file schema before anything is created.
	if _, err := newFileSink(path, p.schema, p.cfg, true, 0); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(p.root, 0o755); err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	return &Sink{path: path, schema: schema, cfg: cfg, part: p}, nil
}

func partitionType(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.BOOL,
		arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP:
		return true
	}
	return false
}

// write splits rec by partition and writes each part to its directory.
// rec has the sink's schema and at least one row.
func (p *partitioned) write(ctx context.Context, rec arrow.RecordBatch) error {
	groups := p.split(rec)
	cols := make([]arrow.Array, len(p.data))
	for i, c := range p.data {
		cols[i] = rec.Column(c)
	}
	data := array.NewRecordBatch(p.schema, cols, rec.NumRows())
	defer data.Release()
	if len(groups) == 1 {
		return p.writeTo(ctx, groups[0].dir, data)
	}
	cctx := compute.WithAllocator(ctx, p.cfg.Mem)
	for _, g := range groups {
		part, err := take(cctx, data, g.rows)
		if err != nil {
			return fmt.Errorf("parquet: partition %s: %w", g.dir, err)
		}
		err = p.writeTo(ctx, g.dir, part)
		part.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// take returns the rows of rec at the given indices (arrow compute take,
// column by column).
func take(ctx context.Context, rec arrow.RecordBatch, rows []int32) (arrow.RecordBatch, error) {
	buf := memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(rows))
	d := array.NewData(arrow.PrimitiveTypes.Int32, len(rows), []*memory.Buffer{nil, buf}, nil, 0, 0)
	idx := array.NewInt32Data(d)
	d.Release()
	defer idx.Release()
	out, err := compute.Take(ctx, compute.TakeOptions{BoundsCheck: false},
		compute.NewDatumWithoutOwning(rec), compute.NewDatumWithoutOwning(idx))
	if err != nil {
		return nil, fmt.Errorf("take: %w", err)
	}
	return out.(*compute.RecordDatum).Value, nil
}

// split groups the rows of rec by partition directory, keeping the order
// of rows within each group. Groups are in order of first appearance.
//
// Each key column maps its values to dense ids (one map lookup per row);
// the ids of several columns are combined into tuple ids the same way.
// Directory names are formatted once per group, not per row.
func (p *partitioned) split(rec arrow.RecordBatch) []group {
	n := int(rec.NumRows())
	var gid []int32     // group of each row; nil while there is one group
	first := []int32{0} // first row of each group
	for _, k := range p.keys {
		ids, reps := columnIDs(rec.Column(k))
		switch {
		case len(reps) == 1:
			continue
		case gid == nil:
			gid, first = ids, reps
			continue
		}
		m := make(map[uint64]int32, max(len(first), len(reps)))
		var next []int32
		for i := range n {
			key := uint64(gid[i])<<32 | uint64(ids[i])
			id, ok := m[key]
			if !ok {
				id = int32(len(next))
				m[key] = id
				next = append(next, int32(i))
			}
			gid[i] = id
		}
		first = next
	}

	// Distinct key tuples can share a directory (null and "" both map to
	// HiveDefaultPartition): merge them.
	var groups []group
	byDir := make(map[string]int32, len(first))
	remap := make([]int32, len(first))
	for g, r := range first {
		dir := p.dirOf(rec, int(r))
		j, ok := byDir[dir]
		if !ok {
			j = int32(len(groups))
			byDir[dir] = j
			groups = append(groups, group{dir: dir})
		}
		remap[g] = j
	}
	if len(groups) == 1 {
		return groups
	}

	// Counting sort of the row numbers by group: one index array, each
	// group's rows a sub-slice of it.
	off := make([]int32, len(groups)+1)
	for i := range n {
		off[remap[gid[i]]+1]++
	}
	for g := range groups {
		off[g+1] += off[g]
	}
	rows := make([]int32, n)
	pos := slices.Clone(off[:len(groups)])
	for i := range n {
		g := remap[gid[i]]
		rows[pos[g]] = int32(i)
		pos[g]++
	}
	for g := range groups {
		groups[g].rows = rows[off[g]:off[g+1]:off[g+1]]
	}
	return groups
}

// columnIDs numbers the distinct values of a (nulls are one value) in
// order of first appearance: ids holds each row's number, first the
// first row of each number.
func columnIDs(a arrow.Array) (ids, first []int32) {
	switch a := a.(type) {
	case *array.String:
		return idsOf(a, a.Value)
	case *array.LargeString:
		return idsOf(a, a.Value)
	case *array.Boolean:
		return idsOf(a, a.Value)
	case *array.Int8:
		return idsOf(a, a.Value)
	case *array.Int16:
		return idsOf(a, a.Value)
	case *array.Int32:
		return idsOf(a, a.Value)
	case *array.Int64:
		return idsOf(a, a.Value)
	case *array.Uint8:
		return idsOf(a, a.Value)
	case *array.Uint16:
		return idsOf(a, a.Value)
	case *array.Uint32:
		return idsOf(a, a.Value)
	case *array.Uint64:
		return idsOf(a, a.Value)
	case *array.Date32:
		return idsOf(a, a.Value)
	case *array.Date64:
		return idsOf(a, a.Value)
	case *array.Timestamp:
		return idsOf(a, a.Value)
	}
	panic(fmt.Sprintf("parquet: partition column of type %s", a.DataType())) // checked by NewSink
}

func idsOf[T comparable](a arrow.Array, value func(int) T) (ids, first []int32) {
	n := a.Len()
	ids = make([]int32, n)
	m := map[T]int32{}
	nulls := a.NullN() > 0
	nullID, lastID := int32(-1), int32(-1)
	var last T
	for i := range n {
		if nulls && a.IsNull(i) {
			if nullID < 0 {
				nullID = int32(len(first))
				first = append(first, int32(i))
			}
			ids[i] = nullID
			continue
		}
		v := value(i)
		if lastID >= 0 && v == last { // runs of one key are common
			ids[i] = lastID
			continue
		}
		id, ok := m[v]
		if !ok {
			id = int32(len(first))
			m[v] = id
			first = append(first, int32(i))
		}
		ids[i], last, lastID = id, v, id
	}
	return ids, first
}

// dirOf returns the partition directory of row i of rec, relative to the
// root, with '/' separators.
func (p *partitioned) dirOf(rec arrow.RecordBatch, i int) string {
	var b strings.Builder
	for j, k := range p.keys {
		if j > 0 {
			b.WriteByte('/')
		}
		b.WriteString(p.names[j])
		b.WriteByte('=')
		b.WriteString(partitionValue(rec.Column(k), i))
	}
	return b.String()
}

// partitionValue formats value i of a as a directory value (see the
// package doc).
func partitionValue(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return HiveDefaultPartition
	}
	var s string
	switch a := a.(type) {
	case *array.String:
		s = a.Value(i)
	case *array.LargeString:
		s = a.Value(i)
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	case *array.Int8:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int16:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Uint8:
		return strconv.FormatUint(uint64(a.Value(i)), 10)
	case *array.Uint16:
		return strconv.FormatUint(uint64(a.Value(i)), 10)
	case *array.Uint32:
		return strconv.FormatUint(uint64(a.Value(i)), 10)
	case *array.Uint64:
		return strconv.FormatUint(a.Value(i), 10)
	case *array.Date32:
		return a.Value(i).ToTime().Format(time.DateOnly)
	case *array.Date64:
		return a.Value(i).ToTime().Format(time.DateOnly)
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		s = a.Value(i).ToTime(unit).UTC().Format("2006-01-02 15:04:05.999999999")
	}
	if s == "" {
		return HiveDefaultPartition
	}
	return escapePathName(s)
}

// escapePathName percent-encodes (%XX, upper-case hex, per byte) the
// characters Hive's FileUtils.escapePathName escapes: ASCII control
// characters, DEL and "#%'*/:=?\[]^{}; and also the bytes of invalid
// UTF-8 and of non-printable Unicode characters. Other characters,
// including space and printable non-ASCII, are kept.
func escapePathName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || strings.IndexByte(`"#%'*/:=?\[]^{}`, c) >= 0 {
				fmt.Fprintf(&b, "%%%02X", c)
			} else {
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !unicode.IsPrint(r) {
			for _, c := range []byte(s[i : i+size]) {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// unescapePathName reverses escapePathName: every %XX with two hex
// digits becomes that byte; anything else is kept.
func unescapePathName(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// writeTo writes rec (file schema) to the partition in dir.
func (p *partitioned) writeTo(ctx context.Context, dir string, rec arrow.RecordBatch) error {
	pt, err := p.get(ctx, dir)
	if err != nil {
		return err
	}
	if err := pt.sink.Write(ctx, rec); err != nil {
		return fmt.Errorf("parquet: partition %s: %w", dir, err)
	}
	return nil
}

// get returns the open partition of dir, opening it (and closing the
// least recently used one if too many are open).
func (p *partitioned) get(ctx context.Context, dir string) (*partition, error) {
	p.tick++
	if pt := p.open[dir]; pt != nil {
		pt.used = p.tick
		return pt, nil
	}
	if len(p.open) >= p.cfg.maxOpen {
		var lru *partition
		for _, pt := range p.open {
			if lru == nil || pt.used < lru.used {
				lru = pt
			}
		}
		if err := p.closePartition(ctx, lru); err != nil {
			return nil, err
		}
	}
	full := filepath.Join(p.root, filepath.FromSlash(dir))
	if err := os.MkdirAll(full, 0o755); err != nil {
		return nil, fmt.Errorf("parquet: partition %s: %w", dir, err)
	}
	sink, err := newFileSink(filepath.Join(full, p.base), p.schema, p.cfg, true, p.next[dir])
	if err != nil {
		return nil, fmt.Errorf("parquet: partition %s: %w", dir, err)
	}
	pt := &partition{dir: dir, sink: sink, used: p.tick}
	p.open[dir] = pt
	return pt, nil
}

// closePartition closes pt's sink and forgets it; its files stay listed.
func (p *partitioned) closePartition(ctx context.Context, pt *partition) error {
	delete(p.open, pt.dir)
	err := pt.sink.Close(ctx)
	p.done = append(p.done, pt.sink.files...)
	p.next[pt.dir] = pt.sink.seq
	if err != nil {
		return fmt.Errorf("parquet: partition %s: %w", pt.dir, err)
	}
	return nil
}

// sorted returns the open partitions in directory order.
func (p *partitioned) sorted() []*partition {
	dirs := slices.Sorted(maps.Keys(p.open))
	out := make([]*partition, len(dirs))
	for i, d := range dirs {
		out[i] = p.open[d]
	}
	return out
}

// flush flushes every open partition, checking ctx between them.
func (p *partitioned) flush(ctx context.Context) error {
	for _, pt := range p.sorted() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := pt.sink.Flush(ctx); err != nil {
			return fmt.Errorf("parquet: partition %s: %w", pt.dir, err)
		}
	}
	return nil
}

// close closes every open partition. If the sink had failed (failed) or
// ctx is done, their files are abandoned and that error returned;
// otherwise each is finished, and the failures of those that could not
// be are joined.
func (p *partitioned) close(ctx context.Context, failed error) error {
	if failed == nil {
		failed = ctx.Err()
	}
	var errs []error
	for _, pt := range p.sorted() {
		if failed != nil {
			pt.sink.err = failed // makes Close abandon the file
		}
		if err := p.closePartition(ctx, pt); err != nil && failed == nil {
			errs = append(errs, err)
		}
	}
	if failed != nil {
		return failed
	}
	return errors.Join(errs...)
}

// allFiles lists the files of open and closed partitions, sorted.
func (p *partitioned) allFiles() []string {
	files := slices.Clone(p.done)
	for _, pt := range p.open {
		files = append(files, pt.sink.files...)
	}
	slices.Sort(files)
	return files
}

// hiveValue is one partition column of a Source's file path.
type hiveValue struct {
	value string
	null  bool
}

// initHive parses the trailing "<col>=<value>" directories of s.path and
// appends their columns to s.schema.
func (s *Source) initHive() error {
	var names []string
	var vals []hiveValue
	for dir := filepath.Dir(s.path); ; dir = filepath.Dir(dir) {
		seg := filepath.Base(dir)
		i := strings.IndexByte(seg, '=')
		if i <= 0 || dir == filepath.Dir(dir) {
			break
		}
		v := hiveValue{value: unescapePathName(seg[i+1:])}
		if seg[i+1:] == HiveDefaultPartition {
			v = hiveValue{null: true}
		}
		names = append(names, unescapePathName(seg[:i]))
		vals = append(vals, v)
	}
	slices.Reverse(names)
	slices.Reverse(vals)
	fields := s.fileSchema.Fields()
	for _, n := range names {
		if s.fileSchema.HasField(n) || slices.ContainsFunc(fields[s.fileSchema.NumFields():], func(f arrow.Field) bool { return f.Name == n }) {
			return fmt.Errorf("%w: partition column %q of %s is also a column of the file or another partition", ErrInvalidOption, n, s.path)
		}
		fields = append(fields, arrow.Field{Name: n, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	md := s.fileSchema.Metadata()
	s.schema = arrow.NewSchema(fields, &md)
	s.hive = vals
	return nil
}

// addHive returns rec (which it takes over) with the partition columns
// appended.
func (s *Source) addHive(rec arrow.RecordBatch) arrow.RecordBatch {
	defer rec.Release()
	n := int(rec.NumRows())
	cols := slices.Clone(rec.Columns())
	for _, v := range s.hive {
		cols = append(cols, constString(s.mem, v, n))
	}
	out := array.NewRecordBatch(s.schema, cols, int64(n))
	for _, c := range cols[rec.NumCols():] {
		c.Release()
	}
	return out
}

// constString returns a string array of n copies of v.
func constString(mem memory.Allocator, v hiveValue, n int) arrow.Array {
	if v.null {
		return array.MakeArrayOfNull(mem, arrow.BinaryTypes.String, n)
	}
	offs := memory.NewResizableBuffer(mem)
	offs.Resize((n + 1) * arrow.Int32SizeBytes)
	o := arrow.Int32Traits.CastFromBytes(offs.Bytes())
	for i := range o {
		o[i] = int32(i * len(v.value))
	}
	data := memory.NewResizableBuffer(mem)
	data.Resize(n * len(v.value))
	b := data.Bytes()
	if len(b) > 0 {
		copy(b, v.value)
		for k := len(v.value); k < len(b); k *= 2 {
			copy(b[k:], b[:k])
		}
	}
	d := array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{nil, offs, data}, nil, 0, 0)
	offs.Release()
	data.Release()
	defer d.Release()
	return array.MakeFromData(d)
}

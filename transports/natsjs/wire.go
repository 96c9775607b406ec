package natsjs

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/util"

	"github.com/pcs-dev/pcs/pcs/ipcguard"
	"github.com/pcs-dev/pcs/transports"
)

// Compression selects the Arrow IPC body compression of a partition. It
// is the IPC format's own buffer compression, so every Arrow reader
// (pyarrow, arrow-js, DuckDB, ...) decodes it.
type Compression int8

// Compression codecs.
const (
	// CompressionNone writes buffers uncompressed (the default): fastest
	// to encode and decode, largest on the wire.
	CompressionNone Compression = iota
	// CompressionLZ4 uses LZ4 frame compression: fast, moderate ratio.
	CompressionLZ4
	// CompressionZstd uses Zstandard: best ratio, slowest. Creating a
	// zstd encoder costs about 0.6 ms per Encode call.
	CompressionZstd
)

// String returns "none", "lz4" or "zstd".
func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionLZ4:
		return "lz4"
	case CompressionZstd:
		return "zstd"
	}
	return fmt.Sprintf("Compression(%d)", int8(c))
}

// ParseCompression parses "none" (or ""), "lz4" or "zstd", case
// insensitively.
func ParseCompression(s string) (Compression, error) {
	switch strings.ToLower(s) {
	case "", "none":
		return CompressionNone, nil
	case "lz4", "lz4_frame":
		return CompressionLZ4, nil
	case "zstd":
		return CompressionZstd, nil
	}
	return CompressionNone, fmt.Errorf("natsjs: unknown compression %q (want none, lz4 or zstd)", s)
}

// DefaultCompressMinBytes is the default of EncodeOptions.CompressMinBytes:
// partitions whose Arrow buffers total less than 64 KiB are written
// uncompressed, because the codec set-up cost (about 0.6 ms for zstd)
// exceeds what compression saves on them.
const DefaultCompressMinBytes = 64 << 10

// MaxDecodedBytes bounds the memory one Decode call may allocate for the
// decoded batches (2 GiB). Below it, a body of n bytes may decode to at
// most max(64 MiB, 32768 x n) bytes: 32768 is the largest expansion zstd
// achieves (RLE blocks), so no real partition is refused. Together with
// the message lengths Decode bounds by the body's size, these protect
// consumers against hostile or corrupt input such as a compressed buffer
// that claims a huge uncompressed size.
const MaxDecodedBytes = 2 << 30

// decodeLimit is the allocation bound of decoding a body of n bytes.
func decodeLimit(n int) int64 {
	return min(MaxDecodedBytes, max(64<<20, ipcguard.MaxExpansion*int64(n)))
}

// EncodeOptions configure Encode. The zero value writes uncompressed.
type EncodeOptions struct {
	// Compression is the IPC body compression; default CompressionNone.
	Compression Compression
	// CompressMinBytes: when Compression is set, partitions whose Arrow
	// buffers total fewer bytes than this are written uncompressed. 0
	// means DefaultCompressMinBytes; a negative value compresses always.
	CompressMinBytes int64
	// Concurrency is the number of goroutines compressing buffers of one
	// batch (ipc.WithCompressConcurrency); values below 2 compress
	// serially.
	Concurrency int
}

// Encode writes recs as one partition body: an Arrow IPC stream (schema,
// the batches in order, end-of-stream marker). Every batch must have the
// same schema (else the error wraps transports.ErrSchemaMismatch);
// empty batches are allowed, no batch at all is ErrNoBatches.
//
// Encode only reads recs: the caller keeps ownership and releases them.
// The returned slice is newly allocated and owned by the caller.
func Encode(recs []arrow.RecordBatch, opts EncodeOptions) ([]byte, error) {
	if len(recs) == 0 {
		return nil, ErrNoBatches
	}
	schema := recs[0].Schema()
	var size int64
	for i, r := range recs {
		if i > 0 && !r.Schema().Equal(schema) {
			return nil, fmt.Errorf("natsjs: encode batch %d: %w: %s, want %s", i, transports.ErrSchemaMismatch, r.Schema(), schema)
		}
		size += encodedSize(r)
	}
	ipcOpts := []ipc.Option{ipc.WithSchema(schema)}
	min := opts.CompressMinBytes
	if min == 0 {
		min = DefaultCompressMinBytes
	}
	compressed := opts.Compression != CompressionNone && size >= min
	if compressed {
		switch opts.Compression {
		case CompressionLZ4:
			ipcOpts = append(ipcOpts, ipc.WithLZ4())
		case CompressionZstd:
			ipcOpts = append(ipcOpts, ipc.WithZstd())
		default:
			return nil, fmt.Errorf("natsjs: encode: unknown compression %v", opts.Compression)
		}
		if opts.Concurrency > 1 {
			ipcOpts = append(ipcOpts, ipc.WithCompressConcurrency(opts.Concurrency))
		}
	}
	var buf bytes.Buffer
	if !compressed {
		// Buffers plus per-batch metadata; capped so that a slice of a huge
		// array does not reserve the whole parent.
		buf.Grow(int(min64(size, 256<<20)) + 1024*len(recs) + 1024)
	}
	w := ipc.NewWriter(&buf, ipcOpts...)
	for i, r := range recs {
		if err := w.Write(r); err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("natsjs: encode batch %d: %w", i, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("natsjs: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// encodedSize is the bytes of rec's buffers as an IPC writer writes them:
// per column, so that a buffer two columns share (the indices of two
// dictionary columns of one lookup, a validity bitmap a derived column
// borrows) counts twice, as it is written twice; and only the part of a
// buffer a sliced column covers (the writer truncates slices: a part of
// a large output is not sized as the whole output).
func encodedSize(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += dataSize(c.Data())
	}
	return n
}

// dataSize is the bytes of d's rows: exact for booleans, fixed-width and
// variable-size binary types (with their validity bitmaps) and
// dictionaries (the indices' rows and the whole dictionary); for other
// types, every buffer of d and its children whole.
func dataSize(d arrow.ArrayData) int64 {
	off, n := int64(d.Offset()), int64(d.Len())
	bufs := d.Buffers()
	size := int64(0)
	if len(bufs) > 0 && bufs[0] != nil && d.NullN() > 0 { // the writer drops a bitmap without nulls
		size += (n + 7) / 8
	}
	switch t := d.DataType().(type) {
	case *arrow.BooleanType:
		return size + (n+7)/8
	case *arrow.DictionaryType:
		size += n * int64(t.IndexType.(arrow.FixedWidthDataType).BitWidth()/8)
		if dict := dictionaryOf(d); dict != nil {
			size += dataSize(dict)
		}
		return size
	case arrow.FixedWidthDataType:
		if w := t.BitWidth(); w%8 == 0 {
			return size + n*int64(w/8)
		}
	case *arrow.StringType, *arrow.BinaryType:
		if len(bufs) == 3 && bufs[1] != nil && n > 0 {
			offs := arrow.Int32Traits.CastFromBytes(bufs[1].Bytes())
			return size + 4*(n+1) + int64(offs[off+n]-offs[off])
		}
	case *arrow.LargeStringType, *arrow.LargeBinaryType:
		if len(bufs) == 3 && bufs[1] != nil && n > 0 {
			offs := arrow.Int64Traits.CastFromBytes(bufs[1].Bytes())
			return size + 8*(n+1) + offs[off+n] - offs[off]
		}
	}
	a := array.MakeFromData(d)
	defer a.Release()
	return util.TotalArraySize(a)
}

// dictionaryOf returns d's dictionary or nil; array.Data returns a typed
// nil pointer when there is none.
func dictionaryOf(d arrow.ArrayData) arrow.ArrayData {
	dict := d.Dictionary()
	if dd, ok := dict.(*array.Data); ok && dd == nil {
		return nil
	}
	return dict
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

// Decode reads a partition body (an Arrow IPC stream) into record
// batches. The caller owns the returned batches and must Release each
// one. Zero-copy: where the body is uncompressed, the batches' buffers
// are slices of body (a 750 KB partition decodes without copying its
// columns), so body must not be modified while any of them, or any array
// taken from them, is in use (dropping it is fine: the slices keep it
// alive); buffers the reader must build (decompressed ones) are
// allocated from mem (nil means memory.DefaultAllocator).
//
// A stream with a schema but no batch decodes to an empty slice. Decode
// bounds every message's metadata and body length by what is left of
// body, bounds its allocations (see MaxDecodedBytes) with an
// ipcguard.LimitAllocator, checks the IPC flatbuffer metadata where
// arrow-go does not (ipcguard.CheckStream), and validates the
// decoded arrays (buffer sizes, offsets, nested children, dictionary
// indices) so that reading any value of a returned batch cannot panic.
// It does not check that strings are valid UTF-8 (Go strings need not
// be, and the check would triple the decode time).
// Every failure is permanent and wraps ErrCorrupt (those of the metadata
// check wrap ipcguard.ErrCorrupt too); panics inside arrow-go on
// malformed input are recovered into ErrCorrupt as well.
func Decode(body []byte, mem memory.Allocator) (recs []arrow.RecordBatch, err error) {
	la := ipcguard.NewLimitAllocator(mem, decodeLimit(len(body)))
	// arrow-go does not release every buffer on its error paths; after a
	// failure, what is still allocated is unreachable: Finish frees it.
	defer func() { la.Finish(err != nil) }()
	return decode(body, la)
}

func decode(body []byte, mem memory.Allocator) (recs []arrow.RecordBatch, err error) {
	defer func() {
		if p := recover(); p != nil {
			releaseAll(recs)
			recs = nil
			err = fmt.Errorf("%w: arrow/ipc panicked: %v", ErrCorrupt, p)
		}
	}()
	if _, err := ipcguard.CheckStream(body); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	// The messages alias body (bodyMessages): uncompressed buffers are
	// not copied. Their lengths are bounded by what is left of body, the
	// limits arrow-go's message reader applies.
	mr := newBodyMessages(body)
	rdr, err := ipc.NewReaderFromMessageReader(mr, ipc.WithAllocator(mem))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	defer rdr.Release()
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := rdr.Err(); err != nil {
		releaseAll(recs)
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	for i, rec := range recs {
		if err := validateRecord(rec); err != nil {
			releaseAll(recs)
			return nil, fmt.Errorf("%w: batch %d: %w", ErrCorrupt, i, err)
		}
	}
	if recs == nil {
		recs = []arrow.RecordBatch{}
	}
	return recs, nil
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		if r != nil {
			r.Release()
		}
	}
}

// validateRecord checks what arrow-go's IPC reader does not: that every
// buffer is large enough for the array's offset and length, that
// variable-size offsets stay within their data, that children and
// dictionaries are valid, and that dictionary indices are in range.
func validateRecord(rec arrow.RecordBatch) error {
	for _, f := range rec.Schema().Fields() {
		if err := validateType(f.Type, 0); err != nil {
			return fmt.Errorf("field %q: %w", f.Name, err)
		}
	}
	n := rec.NumRows()
	for i, col := range rec.Columns() {
		if int64(col.Len()) != n {
			return fmt.Errorf("column %d: length %d, want %d", i, col.Len(), n)
		}
		if err := validateData(col.Data(), 0); err != nil {
			return fmt.Errorf("column %d (%s): %w", i, rec.Schema().Field(i).Name, err)
		}
	}
	return nil
}

const maxValidateDepth = 64

// validateType rejects type parameters that arrow-go accepts from IPC
// metadata but later indexes tables with (decimal precision and scale)
// or sizes buffers by (negative widths).
func validateType(dt arrow.DataType, depth int) error {
	if depth > maxValidateDepth {
		return fmt.Errorf("types nested deeper than %d", maxValidateDepth)
	}
	switch t := dt.(type) {
	case arrow.DecimalType:
		var max int32
		switch dt.ID() {
		case arrow.DECIMAL32:
			max = 9
		case arrow.DECIMAL64:
			max = 18
		case arrow.DECIMAL128:
			max = 38
		case arrow.DECIMAL256:
			max = 76
		}
		if p, s := t.GetPrecision(), t.GetScale(); p < 1 || p > max || s < -max || s > max {
			return fmt.Errorf("%s: precision or scale out of range", dt)
		}
	case *arrow.FixedSizeBinaryType:
		if t.ByteWidth < 0 {
			return fmt.Errorf("%s: negative width", dt)
		}
	case *arrow.FixedSizeListType:
		if t.Len() < 0 {
			return fmt.Errorf("%s: negative size", dt)
		}
	case *arrow.DictionaryType:
		if err := validateType(t.ValueType, depth+1); err != nil {
			return err
		}
	case *arrow.RunEndEncodedType:
		if err := validateType(t.Encoded(), depth+1); err != nil {
			return err
		}
	}
	if nt, ok := dt.(arrow.NestedType); ok {
		for _, f := range nt.Fields() {
			if err := validateType(f.Type, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateData(d arrow.ArrayData, depth int) error {
	if depth > maxValidateDepth {
		return fmt.Errorf("nesting deeper than %d", maxValidateDepth)
	}
	off, n := d.Offset(), d.Len()
	if off < 0 || n < 0 {
		return fmt.Errorf("negative offset %d or length %d", off, n)
	}
	end := off + n
	bufs := d.Buffers()
	dt := d.DataType()
	switch dt.ID() {
	case arrow.NULL, arrow.SPARSE_UNION, arrow.DENSE_UNION, arrow.RUN_END_ENCODED:
		// No validity bitmap (unions, REE) or no buffers (null).
	default:
		if len(bufs) > 0 && bufs[0] != nil && bufs[0].Len() > 0 && bufs[0].Len() < int(bitutil.BytesForBits(int64(end))) {
			return fmt.Errorf("validity bitmap of %d bytes for %d slots", bufs[0].Len(), end)
		}
	}
	if fw, ok := dt.(arrow.FixedWidthDataType); ok && dt.ID() != arrow.NULL {
		need := bitutil.BytesForBits(int64(end) * int64(fw.BitWidth()))
		if end > 0 && (len(bufs) < 2 || bufs[1] == nil || int64(bufs[1].Len()) < need) {
			have := 0
			if len(bufs) > 1 && bufs[1] != nil {
				have = bufs[1].Len()
			}
			return fmt.Errorf("%s values buffer of %d bytes, need %d", dt, have, need)
		}
	}
	for i, c := range d.Children() {
		if err := validateData(c, depth+1); err != nil {
			return fmt.Errorf("child %d: %w", i, err)
		}
	}
	if dict := dictionaryOf(d); dict != nil {
		if err := validateData(dict, depth+1); err != nil {
			return fmt.Errorf("dictionary: %w", err)
		}
	}
	arr := array.MakeFromData(d)
	defer arr.Release()
	switch a := arr.(type) {
	case *array.String:
		// ValidateFull also checks UTF-8, which costs two thirds of a
		// decode and is not needed for memory safety.
		if err := a.Validate(); err != nil {
			return err
		}
		if a.Len() > 0 {
			if err := monotonic(a.ValueOffsets()); err != nil {
				return err
			}
		}
	case *array.LargeString:
		if err := a.Validate(); err != nil {
			return err
		}
		if a.Len() > 0 {
			if err := monotonic(a.ValueOffsets()); err != nil {
				return err
			}
		}
	case interface{ ValidateFull() error }:
		if err := a.ValidateFull(); err != nil {
			return err
		}
	}
	if da, ok := arr.(*array.Dictionary); ok {
		return checkIndices(da)
	}
	return nil
}

// monotonic checks that offsets start non-negative and never decrease
// (Validate has checked the last one against the data length).
func monotonic[T int32 | int64](offs []T) error {
	if len(offs) == 0 {
		return nil
	}
	if offs[0] < 0 {
		return fmt.Errorf("negative offset %d", offs[0])
	}
	for i := 1; i < len(offs); i++ {
		if offs[i] < offs[i-1] {
			return fmt.Errorf("offsets decrease at %d: %d < %d", i, offs[i], offs[i-1])
		}
	}
	return nil
}

// eventBounds returns the smallest and largest non-null value of the
// timestamp or date column named col over recs; ok is false when no row
// has one.
func eventBounds(recs []arrow.RecordBatch, col string) (min, max time.Time, ok bool, err error) {
	for _, r := range recs {
		idx := r.Schema().FieldIndices(col)
		if len(idx) != 1 {
			return min, max, false, fmt.Errorf("%w: %q: found %d columns of that name", ErrEventTime, col, len(idx))
		}
		arr := r.Column(idx[0])
		var conv func(i int) time.Time
		switch a := arr.(type) {
		case *array.Timestamp:
			unit := a.DataType().(*arrow.TimestampType).Unit
			conv = func(i int) time.Time { return a.Value(i).ToTime(unit) }
		case *array.Date32:
			conv = func(i int) time.Time { return a.Value(i).ToTime() }
		case *array.Date64:
			conv = func(i int) time.Time { return a.Value(i).ToTime() }
		default:
			return min, max, false, fmt.Errorf("%w: %q has type %s, want timestamp or date", ErrEventTime, col, arr.DataType())
		}
		for i := 0; i < arr.Len(); i++ {
			if arr.IsNull(i) {
				continue
			}
			t := conv(i)
			if !ok || t.Before(min) {
				min = t
			}
			if !ok || t.After(max) {
				max = t
			}
			ok = true
		}
	}
	return min.UTC(), max.UTC(), ok, nil
}

// Describe computes the metadata a producer derives from the batches
// themselves: Rows, Schema (the fingerprint of recs[0]'s schema) and,
// when eventTime names a timestamp or date column, EventMin and EventMax
// (left zero when every event time is null). ID, Watermark, Object and
// Lineage are left for the caller. recs must not be empty.
func Describe(recs []arrow.RecordBatch, eventTime string) (Meta, error) {
	if len(recs) == 0 {
		return Meta{}, ErrNoBatches
	}
	m := Meta{Schema: Fingerprint(recs[0].Schema())}
	for _, r := range recs {
		m.Rows += r.NumRows()
	}
	if eventTime != "" {
		min, max, ok, err := eventBounds(recs, eventTime)
		if err != nil {
			return Meta{}, err
		}
		if ok {
			m.EventMin, m.EventMax = min, max
		}
	}
	return m, nil
}

// checkIndices reports a dictionary index outside [0, dictionary length).
// It reads the index column through its concrete type: GetValueIndex per
// row costs a type switch each.
func checkIndices(da *array.Dictionary) error {
	size := int64(da.Dictionary().Len())
	bad := func(i int, k int64) error {
		return fmt.Errorf("dictionary index %d at row %d out of range [0,%d)", k, i, size)
	}
	switch ix := da.Indices().(type) {
	case *array.Int8:
		return scanIndices(ix.Int8Values(), ix, size, bad)
	case *array.Int16:
		return scanIndices(ix.Int16Values(), ix, size, bad)
	case *array.Int32:
		return scanIndices(ix.Int32Values(), ix, size, bad)
	case *array.Int64:
		return scanIndices(ix.Int64Values(), ix, size, bad)
	case *array.Uint8:
		return scanIndices(ix.Uint8Values(), ix, size, bad)
	case *array.Uint16:
		return scanIndices(ix.Uint16Values(), ix, size, bad)
	case *array.Uint32:
		return scanIndices(ix.Uint32Values(), ix, size, bad)
	case *array.Uint64:
		for i, k := range ix.Uint64Values() {
			if ix.IsValid(i) && k >= uint64(size) {
				return fmt.Errorf("dictionary index %d at row %d out of range [0,%d)", k, i, size)
			}
		}
		return nil
	}
	return fmt.Errorf("dictionary index type %s", da.Indices().DataType())
}

func scanIndices[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32](vals []T, ix arrow.Array, size int64, bad func(int, int64) error) error {
	nulls := ix.NullN() > 0
	for i, k := range vals {
		if (int64(k) < 0 || int64(k) >= size) && (!nulls || ix.IsValid(i)) {
			return bad(i, int64(k))
		}
	}
	return nil
}

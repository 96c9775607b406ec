// Package ipcguard protects readers of untrusted Arrow IPC data (files
// and streams) against what arrow-go v18.8.0
// (github.com/apache/arrow-go/v18/arrow/ipc) does with hostile or
// corrupt input:
//
//   - It trusts counts and lengths in the IPC flatbuffer metadata and
//     sizes allocations by them before reading what they count (vector
//     lengths; the metadata length of a stream message, which
//     ipc.NewReader allocates with no limit): a few bytes can make it
//     allocate tens of gigabytes, a fatal out-of-memory error that
//     recover cannot catch. It also decodes a structure as often as it
//     is referenced, so a vector or string shared by many fields, or a
//     dictionary block listed many times, amplifies the input
//     quadratically. [CheckFile] and [CheckStream] check all this first.
//   - It recurses into the field tree of a schema without a bound: a
//     field that is its own child (a flatbuffer offset that wraps around)
//     overflows the stack, fatal too. The checks refuse such offsets and
//     bound the nesting depth.
//   - It allocates buffers of the sizes the input declares (the
//     uncompressed size of a compressed buffer) and drops some of them
//     without freeing them when it fails. [LimitAllocator] bounds what it
//     can hold and frees what is left after a failed decode.
//   - It panics on some corrupt input (out-of-range buffer offsets, slice
//     bounds). Those panics are recoverable; arrow-go recovers some into
//     errors, the caller must recover the others.
//
// A decoder runs CheckFile or CheckStream on the whole input, then
// arrow-go's reader with a LimitAllocator, recovering panics, and calls
// LimitAllocator.Finish at the end. The checks look at the metadata only:
// they do not validate the message bodies or the values (buffer offsets
// within the body, string offsets, dictionary indices, union type codes,
// bitmap sizes against lengths), which the decoder must check on the
// decoded arrays before reading their values.
//
// The package imports only arrow-go and the standard library.
package ipcguard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// ErrCorrupt is wrapped by every error of CheckFile and CheckStream: the
// input's IPC metadata holds a count, offset or structure that arrow-go
// v18.8.0 would act on without checking it, with a fatal result (see the
// package documentation). The error message says where: the message or
// file block, the field path and what is wrong.
var ErrCorrupt = errors.New("ipcguard: corrupt Arrow IPC metadata")

// Info describes what a check saw of its input.
type Info struct {
	// Dictionaries reports whether a schema field, at any depth, is
	// dictionary-encoded. (arrow-go v18.8.0's mapped file reader,
	// ipc.NewMappedFileReader, panics on dictionary-encoded fields.)
	Dictionaries bool
	// DictionaryBatches and RecordBatches count the dictionary and record
	// batch messages: in a file, the blocks listed by the footer; in a
	// stream, the messages before the end-of-stream marker (or the end of
	// the input).
	DictionaryBatches, RecordBatches int
}

// Message header types (the MessageHeader union of Message.fbs).
const (
	headerSchema     = 1
	headerDictionary = 2
	headerRecord     = 3
)

// Flatbuffer field slots (the order of the fields in Schema.fbs,
// Message.fbs and File.fbs).
const (
	footerSchema, footerDictionaries, footerRecordBatches, footerMetadata = 1, 2, 3, 4

	messageHeaderType, messageHeader, messageBodyLength, messageMetadata = 1, 2, 3, 4

	schemaFields, schemaMetadata, schemaFeatures = 1, 2, 3

	fieldName, fieldTypeType, fieldType, fieldDictionary, fieldChildren, fieldMetadata = 0, 2, 3, 4, 5, 6

	dictEncodingID, dictEncodingIndexType = 0, 1

	dictBatchID, dictBatchData = 0, 1

	recordNodes, recordBuffers, recordCompression, recordVariadicCounts = 1, 2, 3, 4

	keyValueKey, keyValueValue = 0, 1

	typeTimestamp, typeUnion     = 10, 14 // Type union members with vectors
	typeBinaryView, typeUtf8View = 23, 24 // view types, with variadic buffers
	timestampTimezone            = 1
	unionTypeIDs                 = 1
	blockSize                    = 24 // File.fbs Block: offset int64, metaDataLength int32 (padded), bodyLength int64
	fieldNodeSize, bufferSize    = 16, 16
)

// MaxFieldDepth is how deep fields may nest (a field at the top of the
// schema has depth 0). Deeper schemas are refused: arrow-go v18.8.0
// recurses into children without a bound, and its array loader refuses
// more than 64 levels anyway.
const MaxFieldDepth = 64

// CheckFile checks the metadata of an Arrow IPC file (the format of
// ipc.NewFileReader and ipc.NewMappedFileReader) before arrow-go reads
// it: the footer and the schema it holds, and the message of every
// dictionary and record batch block the footer lists. It checks:
//
//   - that the tables, vectors and strings arrow-go reads lie inside
//     their flatbuffer (offsets that would wrap around are refused), in
//     particular the lengths of the vectors it allocates slices by:
//     schema fields, field children, the custom metadata of the schema,
//     fields and messages, union type ids, record batch nodes, buffers
//     and variadic buffer counts (and the footer's custom metadata and
//     the schema's features, which it does not read);
//   - that fields nest at most MaxFieldDepth deep;
//   - that a flatbuffer references at most one Field or KeyValue table
//     per 4 bytes of its size, counting each reference: arrow-go decodes
//     a shared children or custom metadata vector once per reference,
//     so sharing would make it decode quadratically many (a valid
//     flatbuffer stores each at least 8 bytes apart);
//   - that the strings a flatbuffer references (names, keys, values,
//     time zones), counted each time, total at most 4 times its size
//     plus 16 MiB: arrow-go copies each one each time (unshared strings
//     total less than the size of their flatbuffer);
//   - the variadic buffer counts of each record or dictionary batch:
//     arrow-go reads one per view array (binary or string view) the
//     schema gives the batch, without checking the length of their
//     vector, and allocates a slice of that length. The vector must be
//     absent (arrow-go then reads zeros) or hold a count for each view
//     array, and each count must lie between 0 and the number of buffers
//     of the batch;
//   - that no two blocks (of the metadata and body they list) share
//     bytes: arrow-go reads every dictionary block when it opens the file
//     and keeps a copy of each delta dictionary, so blocks that all point
//     at one large message would make it hold that message once per
//     block. No writer shares blocks; record batch blocks are held to the
//     same rule, which keeps the check linear.
//
// What arrow-go checks itself is left to it, and CheckFile returns no
// error for it: the magic, the footer size, blocks outside the file or
// with an impossible metadata length, which CheckFile skips. It does not
// look at the message bodies: buffer offsets and lengths in the body, the
// values (string offsets, dictionary indices), bitmaps against lengths
// and the uncompressed sizes of compressed buffers (see LimitAllocator)
// are for the decoder to check. It does not check that the file begins
// with the magic or that the schema at its start agrees with the footer:
// arrow-go reads only the footer's.
//
// CheckFile reads data only; it runs in time linear in len(data) plus
// the number of blocks times their logarithm, and allocates memory in
// proportion to the number of blocks and of dictionary fields.
func CheckFile(data []byte) (Info, error) {
	var info Info
	n := int64(len(data))
	const eof = 10 // footer length (int32) and magic (6 bytes)
	if n <= 16 || string(data[n-6:]) != "ARROW1" {
		return info, nil // arrow-go refuses it
	}
	size := int64(binary.LittleEndian.Uint32(data[n-eof:]))
	if size <= 0 || size+16 > n {
		return info, nil // arrow-go refuses it
	}
	footer := newFbuf(data[n-eof-size : n-eof])
	schema, err := checkFooter(footer)
	if err != nil {
		return info, fmt.Errorf("%w: file footer: %w", ErrCorrupt, err)
	}
	info.Dictionaries = schema.dictionaries
	// The footer's vectors are checked: read its blocks. Refuse shared
	// bytes first, so that no message is checked twice.
	root, _ := footer.ref(0)
	ft, _ := footer.table(root)
	var blocks []fileBlock
	for _, kind := range []struct {
		slot  int
		dict  bool
		count *int
	}{
		{footerDictionaries, true, &info.DictionaryBatches},
		{footerRecordBatches, false, &info.RecordBatches},
	} {
		start, nb, _ := footer.vector(ft, kind.slot, blockSize)
		*kind.count = nb
		for i := 0; i < nb; i++ {
			blk := footer.b[start+blockSize*int64(i):]
			off := int64(binary.LittleEndian.Uint64(blk))
			meta := int64(int32(binary.LittleEndian.Uint32(blk[8:])))
			body := int64(binary.LittleEndian.Uint64(blk[16:]))
			if off < 0 || meta < 0 || body < 0 || off > n || meta > n-off || body > n-off-meta {
				continue // arrow-go refuses the block
			}
			blocks = append(blocks, fileBlock{off: off, meta: meta, end: off + meta + body, dict: kind.dict, index: i})
		}
	}
	slices.SortFunc(blocks, func(a, b fileBlock) int { return cmpInt64(a.off, b.off) })
	for i := 1; i < len(blocks); i++ {
		if a, b := blocks[i-1], blocks[i]; b.off < a.end {
			return info, fmt.Errorf("%w: %s (bytes %d to %d) and %s (bytes %d to %d) overlap",
				ErrCorrupt, a, a.off, a.end, b, b.off, b.end)
		}
	}
	for _, b := range blocks {
		if b.meta < 8 {
			continue // arrow-go refuses the block: no room for a length and a flatbuffer
		}
		msg := data[b.off : b.off+b.meta]
		prefix := int64(4)
		if binary.LittleEndian.Uint32(msg) == 0xFFFFFFFF {
			prefix = 8 // continuation marker, then the length
		}
		if err := checkMessage(newFbuf(msg[prefix:]), b.dict, schema, data[b.off+b.meta:b.end]); err != nil {
			return info, fmt.Errorf("%w: %s at offset %d: %w", ErrCorrupt, b, b.off, err)
		}
	}
	return info, nil
}

// fileBlock is a block of a file footer that lies inside the file.
type fileBlock struct {
	off, meta, end int64 // end: of its body
	dict           bool  // a dictionary block, else a record batch block
	index          int   // in its footer vector
}

func (b fileBlock) String() string {
	if b.dict {
		return fmt.Sprintf("dictionary block %d", b.index)
	}
	return fmt.Sprintf("record batch block %d", b.index)
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// checkFooter checks a file footer and returns what its schema says of
// the batches.
func checkFooter(f *fbuf) (*schemaInfo, error) {
	root, err := f.ref(0)
	if err != nil {
		return nil, err
	}
	ft, err := f.table(root)
	if err != nil {
		return nil, err
	}
	if _, _, err := f.vector(ft, footerDictionaries, blockSize); err != nil {
		return nil, fmt.Errorf("dictionaries: %w", err)
	}
	if _, _, err := f.vector(ft, footerRecordBatches, blockSize); err != nil {
		return nil, fmt.Errorf("record batches: %w", err)
	}
	if err := f.keyValues(ft, footerMetadata); err != nil {
		return nil, err
	}
	schema, err := f.subtable(ft, footerSchema)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	si, err := f.checkSchema(schema)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return si, nil
}

// CheckStream checks an Arrow IPC stream (the format of ipc.NewReader and
// ipc.NewMessageReader) before arrow-go reads it; data must be the whole
// stream. It frames the messages as arrow-go does (an optional
// 0xFFFFFFFF continuation marker, a little-endian int32 metadata length,
// the metadata flatbuffer, then a body of the length the metadata
// declares), up to the end-of-stream marker or the end of data, and
// checks:
//
//   - that every message lies whole inside data: its metadata length
//     (which ipc.NewReader, having no size limit, allocates before
//     reading: a length of 2 GiB in an 8-byte input is a 2 GiB
//     allocation) and its body length fit in the bytes left;
//   - the metadata of each schema, dictionary batch and record batch
//     message as CheckFile checks the footer's schema and the file's
//     blocks: the same flatbuffer bounds, vector lengths, field depth,
//     field and key-value budget, string budget and variadic buffer
//     counts (by the schema of the first message, which arrow-go reads
//     the batches by).
//
// Bytes after the end-of-stream marker are not looked at, nor are they
// by arrow-go. Like CheckFile, CheckStream does not look at message
// bodies or values; nor does it check the order of the messages (the
// schema first), which arrow-go checks.
//
// CheckStream reads data only, in time linear in len(data), and
// allocates memory in proportion to the number of dictionary fields.
func CheckStream(data []byte) (Info, error) {
	var info Info
	// arrow-go reads the batches by the schema of the first message;
	// nil until then (and for ever if that is no schema: arrow-go then
	// reads no batch).
	var schema *schemaInfo
	n := int64(len(data))
	pos := int64(0)
	for msgIndex := 0; pos < n; msgIndex++ {
		at := pos
		if n-pos < 4 {
			return info, fmt.Errorf("%w: stream message %d at offset %d: truncated in its length prefix", ErrCorrupt, msgIndex, at)
		}
		msgLen := int64(binary.LittleEndian.Uint32(data[pos:]))
		pos += 4
		if msgLen == 0xFFFFFFFF {
			if n-pos < 4 {
				return info, fmt.Errorf("%w: stream message %d at offset %d: truncated in its length prefix", ErrCorrupt, msgIndex, at)
			}
			msgLen = int64(binary.LittleEndian.Uint32(data[pos:]))
			pos += 4
		}
		if msgLen == 0 {
			break // end of stream
		}
		if msgLen > n-pos {
			return info, fmt.Errorf("%w: stream message %d at offset %d: metadata length %d, with %d bytes left", ErrCorrupt, msgIndex, at, msgLen, n-pos)
		}
		f := newFbuf(data[pos : pos+msgLen])
		pos += msgLen
		bodyLen, si, err := checkStreamMessage(f, schema, &info)
		if err != nil {
			return info, fmt.Errorf("%w: stream message %d at offset %d: %w", ErrCorrupt, msgIndex, at, err)
		}
		if bodyLen < 0 || bodyLen > n-pos {
			return info, fmt.Errorf("%w: stream message %d at offset %d: body length %d, with %d bytes left", ErrCorrupt, msgIndex, at, bodyLen, n-pos)
		}
		if msgIndex == 0 {
			schema = si
		}
		pos += bodyLen
	}
	return info, nil
}

// checkStreamMessage checks one stream message by its header type, its
// batches against schema (nil if unknown), and returns its body length
// and, for a schema message, what the schema says of the batches.
func checkStreamMessage(f *fbuf, schema *schemaInfo, info *Info) (int64, *schemaInfo, error) {
	root, err := f.ref(0)
	if err != nil {
		return 0, nil, err
	}
	msg, err := f.table(root)
	if err != nil {
		return 0, nil, err
	}
	bodyLen, err := f.int64Field(msg, messageBodyLength)
	if err != nil {
		return 0, nil, err
	}
	ht, err := f.byteField(msg, messageHeaderType)
	if err != nil {
		return 0, nil, err
	}
	var si *schemaInfo
	switch ht {
	case headerSchema:
		if err := f.keyValues(msg, messageMetadata); err != nil {
			return 0, nil, err
		}
		st, err := f.subtable(msg, messageHeader)
		if err != nil {
			return 0, nil, fmt.Errorf("schema: %w", err)
		}
		if si, err = f.checkSchema(st); err != nil {
			return 0, nil, fmt.Errorf("schema: %w", err)
		}
		info.Dictionaries = info.Dictionaries || si.dictionaries
	case headerDictionary, headerRecord:
		if schema == nil {
			schema = &schemaInfo{} // arrow-go reads no batch
		}
		if err := checkMessage(f, ht == headerDictionary, schema, nil); err != nil {
			return 0, nil, err
		}
		if ht == headerDictionary {
			info.DictionaryBatches++
		} else {
			info.RecordBatches++
		}
	default:
		// arrow-go refuses other message types (tensors, none) without
		// reading them; their custom metadata is still checked.
		if err := f.keyValues(msg, messageMetadata); err != nil {
			return 0, nil, err
		}
	}
	return bodyLen, si, nil
}

// checkMessage checks a dictionary batch (dict) or record batch message
// against what schema says of the batches. Its header is read as that
// kind whatever its header type says, as arrow-go's file reader reads
// dictionary blocks. body, when not nil, is the message body: the
// declared sizes of its compressed buffers are checked too.
func checkMessage(f *fbuf, dict bool, schema *schemaInfo, body []byte) error {
	root, err := f.ref(0)
	if err != nil {
		return err
	}
	msg, err := f.table(root)
	if err != nil {
		return err
	}
	if err := f.keyValues(msg, messageMetadata); err != nil {
		return err
	}
	header, err := f.subtable(msg, messageHeader)
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	views, what := schema.views, "record batch"
	if dict {
		what = "dictionary batch"
		id, err := f.int64Field(header, dictBatchID)
		if err != nil {
			return fmt.Errorf("%s: id: %w", what, err)
		}
		views = schema.dictViews[id]
		if header, err = f.subtable(header, dictBatchData); err != nil {
			return fmt.Errorf("%s: data: %w", what, err)
		}
	}
	if err := f.recordBatch(header, views, body); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// compressedSizes checks the declared uncompressed size of each of the
// nbuf buffers (Buffer structs at start) of a compressed body.
func (f *fbuf) compressedSizes(start int64, nbuf int, body []byte) error {
	for i := 0; i < nbuf; i++ {
		b := f.b[start+bufferSize*int64(i):]
		off := int64(binary.LittleEndian.Uint64(b))
		length := int64(binary.LittleEndian.Uint64(b[8:]))
		if length < 8 || off < 0 || off > int64(len(body))-8 || length > int64(len(body))-off {
			continue // empty, or out of the body: arrow-go refuses or skips it
		}
		declared := int64(binary.LittleEndian.Uint64(body[off:]))
		if declared != -1 && (declared < 0 || declared > MaxExpansion*(length-8)+64) {
			return fmt.Errorf("buffer %d: declares %d uncompressed bytes from %d compressed", i, declared, length-8)
		}
	}
	return nil
}

// schemaInfo is what a schema says of the batches arrow-go reads by it.
type schemaInfo struct {
	dictionaries bool // a field is dictionary-encoded
	// views is the number of view arrays (binary and string views) in a
	// record batch: arrow-go reads one variadic buffer count for each.
	views int
	// dictViews is the same for the dictionary batches, by dictionary id.
	dictViews map[int64]int
}

// checkSchema checks a Schema table: its fields, custom metadata and
// features.
func (f *fbuf) checkSchema(s table) (*schemaInfo, error) {
	si := &schemaInfo{dictViews: map[int64]int{}}
	if err := f.tables(s, schemaFields, "fields", func(k int, field table) error {
		views, err := f.checkField(field, 0, si)
		if err != nil {
			return fmt.Errorf("field %d: %w", k, err)
		}
		si.views += views
		return nil
	}); err != nil {
		return nil, err
	}
	if err := f.keyValues(s, schemaMetadata); err != nil {
		return nil, err
	}
	if _, _, err := f.vector(s, schemaFeatures, 8); err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	return si, nil
}

// checkField checks a Field table at depth (0 for a schema's fields) and
// its children. It returns the number of view arrays arrow-go loads for
// the field in a batch (as many as it reads variadic buffer counts): of
// its type and children's, none for a dictionary-encoded field, whose
// batch holds indices, the views of its values being counted in si for
// its dictionary batches. More than arrow-go loads would only make the
// check stricter (a view type with children); never fewer.
func (f *fbuf) checkField(field table, depth int, si *schemaInfo) (views int, err error) {
	if depth > MaxFieldDepth {
		return 0, fmt.Errorf("fields nested deeper than %d", MaxFieldDepth)
	}
	if err := f.visit(); err != nil {
		return 0, err
	}
	if err := f.str(field, fieldName); err != nil {
		return 0, fmt.Errorf("name: %w", err)
	}
	tt, err := f.byteField(field, fieldTypeType)
	if err != nil {
		return 0, fmt.Errorf("type: %w", err)
	}
	typ, err := f.subtable(field, fieldType)
	if err != nil {
		return 0, fmt.Errorf("type: %w", err)
	}
	switch tt {
	case typeTimestamp:
		if err := f.str(typ, timestampTimezone); err != nil {
			return 0, fmt.Errorf("timestamp timezone: %w", err)
		}
	case typeUnion:
		if _, _, err := f.vector(typ, unionTypeIDs, 4); err != nil {
			return 0, fmt.Errorf("union typeIds: %w", err)
		}
	case typeBinaryView, typeUtf8View:
		views = 1
	}
	dict, err := f.subtable(field, fieldDictionary)
	if err != nil {
		return 0, fmt.Errorf("dictionary: %w", err)
	}
	var id int64
	if !dict.absent {
		si.dictionaries = true
		if id, err = f.int64Field(dict, dictEncodingID); err != nil {
			return 0, fmt.Errorf("dictionary id: %w", err)
		}
		if _, err := f.subtable(dict, dictEncodingIndexType); err != nil {
			return 0, fmt.Errorf("dictionary indexType: %w", err)
		}
	}
	if err := f.tables(field, fieldChildren, "children", func(k int, child table) error {
		v, err := f.checkField(child, depth+1, si)
		if err != nil {
			return fmt.Errorf("child %d: %w", k, err)
		}
		views += v
		return nil
	}); err != nil {
		return 0, err
	}
	if err := f.keyValues(field, fieldMetadata); err != nil {
		return 0, err
	}
	if !dict.absent {
		si.dictViews[id] = max(si.dictViews[id], views)
		return 0, nil
	}
	return views, nil
}

// keyValues checks the vector of KeyValue tables (custom metadata) of
// field slot i of t, which arrow-go allocates two slices by.
func (f *fbuf) keyValues(t table, i int) error {
	return f.tables(t, i, "custom_metadata", func(k int, kv table) error {
		if err := f.visit(); err != nil {
			return fmt.Errorf("custom_metadata[%d]: %w", k, err)
		}
		if err := f.str(kv, keyValueKey); err != nil {
			return fmt.Errorf("custom_metadata[%d] key: %w", k, err)
		}
		if err := f.str(kv, keyValueValue); err != nil {
			return fmt.Errorf("custom_metadata[%d] value: %w", k, err)
		}
		return nil
	})
}

// recordBatch checks a RecordBatch table (also the data of a dictionary
// batch) holding views view arrays: its nodes and buffers vectors, its
// compression table, and its variadic buffer counts, each of which
// arrow-go allocates a slice by. arrow-go reads one count per view array
// without checking the length of their vector (only its absence, which
// reads as zeros): a short vector makes it take the bytes after it as
// counts, so the vector must have one per view array.
//
// With body (the message body) and a compression table, each compressed
// buffer's declared uncompressed size (its first 8 bytes; -1 means stored
// uncompressed) must be at most MaxExpansion times its compressed length:
// arrow-go allocates the declared size before decompressing.
func (f *fbuf) recordBatch(rb table, views int, body []byte) error {
	if _, _, err := f.vector(rb, recordNodes, fieldNodeSize); err != nil {
		return fmt.Errorf("nodes: %w", err)
	}
	bstart, nbuf, err := f.vector(rb, recordBuffers, bufferSize)
	if err != nil {
		return fmt.Errorf("buffers: %w", err)
	}
	comp, err := f.subtable(rb, recordCompression)
	if err != nil {
		return fmt.Errorf("compression: %w", err)
	}
	if body != nil && !comp.absent {
		if err := f.compressedSizes(bstart, nbuf, body); err != nil {
			return err
		}
	}
	present, err := f.field(rb, recordVariadicCounts)
	if err != nil {
		return fmt.Errorf("variadicBufferCounts: %w", err)
	}
	start, n, err := f.vector(rb, recordVariadicCounts, 8)
	if err != nil {
		return fmt.Errorf("variadicBufferCounts: %w", err)
	}
	if present != 0 && n < views {
		return fmt.Errorf("%d variadic buffer counts for %d view arrays", n, views)
	}
	for k := 0; k < n; k++ {
		if c := int64(binary.LittleEndian.Uint64(f.b[start+8*int64(k):])); c < 0 || c > int64(nbuf) {
			return fmt.Errorf("variadic buffer count %d of %d: %d, with %d buffers", k, n, c, nbuf)
		}
	}
	return nil
}

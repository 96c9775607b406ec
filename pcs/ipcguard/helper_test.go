package ipcguard_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// fb navigates one flatbuffer inside data, to corrupt it in place.
// Positions are relative to base, as inside the flatbuffer.
type fb struct {
	data []byte
	base int
}

func (f fb) u32(p int) uint32      { return binary.LittleEndian.Uint32(f.data[f.base+p:]) }
func (f fb) put32(p int, v uint32) { binary.LittleEndian.PutUint32(f.data[f.base+p:], v) }
func (f fb) put64(p int, v uint64) { binary.LittleEndian.PutUint64(f.data[f.base+p:], v) }
func (f fb) u64(p int) uint64      { return binary.LittleEndian.Uint64(f.data[f.base+p:]) }
func (f fb) ref(p int) int         { return p + int(f.u32(p)) }
func (f fb) root() int             { return f.ref(0) }
func (f fb) vtable(t int) int      { return t - int(int32(f.u32(t))) }
func (f fb) slotOff(t, slot int) int {
	return int(binary.LittleEndian.Uint16(f.data[f.base+f.vtable(t)+4+2*slot:]))
}

// has reports whether the table at t has field slot.
func (f fb) has(t, slot int) bool {
	vt := f.vtable(t)
	if 4+2*slot >= int(binary.LittleEndian.Uint16(f.data[f.base+vt:])) {
		return false
	}
	return f.slotOff(t, slot) != 0
}

// field returns the position of field slot of the table at t.
func (f fb) field(t, slot int) int {
	if !f.has(t, slot) {
		panic(fmt.Sprintf("table at %d has no field %d", t, slot))
	}
	return t + f.slotOff(t, slot)
}

// sub returns the table referenced by field slot of t.
func (f fb) sub(t, slot int) int { return f.ref(f.field(t, slot)) }

// vec returns the position of the length of the vector of field slot of t.
func (f fb) vec(t, slot int) int { return f.ref(f.field(t, slot)) }

// elem returns the table element k of the vector of tables of field
// slot of t.
func (f fb) elem(t, slot, k int) int { return f.ref(f.vec(t, slot) + 4 + 4*k) }

// Field slots used by the tests (Schema.fbs, Message.fbs, File.fbs).
const (
	slotFooterSchema, slotFooterDicts, slotFooterRecords = 1, 2, 3
	slotMsgHeader, slotMsgMetadata                       = 2, 4
	slotSchemaFields, slotSchemaMetadata                 = 1, 2
	slotFieldName, slotFieldType, slotFieldDict          = 0, 3, 4
	slotFieldChildren, slotFieldMetadata                 = 5, 6
	slotDictData                                         = 1
	slotRBNodes, slotRBBuffers, slotRBVariadic           = 1, 2, 4
	slotKVValue                                          = 1
	slotUnionTypeIDs, slotTimestampTZ                    = 1, 1
)

// footer returns the navigator of an IPC file's footer.
func footer(data []byte) fb {
	n := len(data)
	size := int(binary.LittleEndian.Uint32(data[n-10:]))
	return fb{data: data, base: n - 10 - size}
}

// fileSchema returns the footer of data and its schema table.
func fileSchema(data []byte) (fb, int) {
	f := footer(data)
	return f, f.sub(f.root(), slotFooterSchema)
}

// block is a file block of the footer.
type block struct {
	at             int // position of the Block struct in the footer
	off, meta, len int64
}

func fileBlocks(data []byte, slot int) []block {
	f := footer(data)
	if !f.has(f.root(), slot) {
		return nil
	}
	v := f.vec(f.root(), slot)
	var blocks []block
	for i := 0; i < int(f.u32(v)); i++ {
		p := v + 4 + 24*i
		blocks = append(blocks, block{at: p, off: int64(f.u64(p)), meta: int64(int32(f.u32(p + 8))), len: int64(f.u64(p + 16))})
	}
	return blocks
}

// blockMessage returns the navigator of the message of a file block.
func blockMessage(data []byte, b block) fb {
	prefix := 4
	if binary.LittleEndian.Uint32(data[b.off:]) == 0xFFFFFFFF {
		prefix = 8
	}
	return fb{data: data, base: int(b.off) + prefix}
}

// streamMessages returns the navigators of the messages of an IPC
// stream, up to the end-of-stream marker.
func streamMessages(data []byte) []fb {
	var msgs []fb
	for pos := 0; pos+8 <= len(data); {
		if binary.LittleEndian.Uint32(data[pos:]) != 0xFFFFFFFF {
			panic("old stream format")
		}
		n := int(binary.LittleEndian.Uint32(data[pos+4:]))
		if n == 0 {
			break
		}
		m := fb{data: data, base: pos + 8}
		msgs = append(msgs, m)
		root := m.root()
		body := 0
		if m.has(root, 3) {
			body = int(m.u64(m.field(root, 3)))
		}
		pos += 8 + n + body
	}
	return msgs
}

// header returns the header table of message m.
func (f fb) header() int { return f.sub(f.root(), slotMsgHeader) }

// writeStream writes recs as an Arrow IPC stream.
func writeStream(t testing.TB, s *arrow.Schema, recs []arrow.RecordBatch, opts ...ipc.Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, append([]ipc.Option{ipc.WithSchema(s)}, opts...)...)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFile writes recs as an Arrow IPC file.
func writeFile(t testing.TB, s *arrow.Schema, recs []arrow.RecordBatch, opts ...ipc.Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, append([]ipc.Option{ipc.WithSchema(s)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func release(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// readStream reads data with arrow-go's stream reader, recovering its
// panics, and returns the number of batches and the error.
func readStream(data []byte, mem memory.Allocator) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	r, err := ipc.NewReader(bytes.NewReader(data), ipc.WithAllocator(mem))
	if err != nil {
		return 0, err
	}
	defer r.Release()
	for r.Next() {
		n++
	}
	return n, r.Err()
}

// readFile and readMapped read data with arrow-go's copying or mapped
// (zero-copy) file reader, recovering its panics, and return the number
// of batches and the error.
func readFile(data []byte, mem memory.Allocator) (int, error) {
	return readFileWith(func() (*ipc.FileReader, error) {
		return ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(mem))
	})
}

func readMapped(data []byte, mem memory.Allocator) (int, error) {
	return readFileWith(func() (*ipc.FileReader, error) { return ipc.NewMappedFileReader(data, ipc.WithAllocator(mem)) })
}

func readFileWith(open func() (*ipc.FileReader, error)) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	r, err := open()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatchAt(i)
		if err != nil {
			return n, err
		}
		rec.Release()
		n++
	}
	return n, nil
}

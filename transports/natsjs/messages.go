package natsjs

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// bodyMessages is an ipc.MessageReader over a partition body held in
// memory whose messages alias the body instead of copying it: the
// metadata and body buffers of each message are slices of body, so
// arrow-go's IPC reader, which slices uncompressed buffers out of a
// message body, returns arrays whose buffers point into body (compressed
// buffers are still decompressed into the reader's allocator). Zero-copy
// decoding is sound because a partition body is never modified once
// received: nats.go allocates each message's payload, and the object
// store returns a new slice.
//
// The framing follows the Arrow IPC streaming format (0xFFFFFFFF
// continuation, little-endian int32 metadata length, the flatbuffer
// Message, then BodyLength bytes), the same checks as arrow-go's
// message reader: the metadata and body lengths are bounded by what is
// left of body, so a corrupt length fails as io.ErrUnexpectedEOF instead
// of reading past the end. Buffers in a body are 8-byte aligned relative
// to the stream's start; their absolute addresses need not be (the
// payload follows the message headers), which arrow-go's readers
// tolerate: they only cast to pointer-free element types.
type bodyMessages struct {
	body []byte
	off  int
	refs atomic.Int64
}

func newBodyMessages(body []byte) *bodyMessages {
	m := &bodyMessages{body: body}
	m.refs.Add(1)
	return m
}

// Retain and Release count references, as ipc.MessageReader asks; the
// reader owns nothing to free.
func (m *bodyMessages) Retain()  { m.refs.Add(1) }
func (m *bodyMessages) Release() { m.refs.Add(-1) }

// Message returns the next message, or io.EOF at the end-of-stream marker
// (or the body's end).
func (m *bodyMessages) Message() (*ipc.Message, error) {
	word := func() (uint32, error) {
		if len(m.body)-m.off < 4 {
			return 0, io.ErrUnexpectedEOF
		}
		v := binary.LittleEndian.Uint32(m.body[m.off:])
		m.off += 4
		return v, nil
	}
	if m.off == len(m.body) {
		return nil, io.EOF
	}
	n, err := word()
	if err != nil {
		return nil, fmt.Errorf("arrow/ipc: could not read continuation indicator: %w", err)
	}
	if n == 0xFFFFFFFF {
		if n, err = word(); err != nil {
			return nil, fmt.Errorf("arrow/ipc: could not read message length: %w", err)
		}
	}
	if n == 0 {
		return nil, io.EOF // end-of-stream marker
	}
	metaLen := int64(int32(n))
	if metaLen < 4 || metaLen > int64(len(m.body)-m.off) {
		return nil, fmt.Errorf("arrow/ipc: invalid message metadata length %d (%d bytes left)", metaLen, len(m.body)-m.off)
	}
	meta := m.body[m.off : m.off+int(metaLen) : m.off+int(metaLen)]
	m.off += int(metaLen)
	msg, err := newMessage(meta, m.body[m.off:])
	if err != nil {
		return nil, err
	}
	m.off += int(msg.BodyLen())
	return msg, nil
}

// newMessage wraps metadata meta and the body at the start of rest as an
// ipc.Message, without copying.
func newMessage(meta, rest []byte) (msg *ipc.Message, err error) {
	defer func() {
		if p := recover(); p != nil { // flatbuffers panics on garbage
			msg, err = nil, fmt.Errorf("arrow/ipc: invalid message metadata: %v", p)
		}
	}()
	msg = ipc.NewMessage(memory.NewBufferBytes(meta), memory.NewBufferBytes(nil))
	bodyLen := msg.BodyLen()
	if bodyLen < 0 || bodyLen > int64(len(rest)) {
		return nil, fmt.Errorf("arrow/ipc: invalid message body length %d (%d bytes left): %w", bodyLen, len(rest), io.ErrUnexpectedEOF)
	}
	return ipc.NewMessage(memory.NewBufferBytes(meta), memory.NewBufferBytes(rest[:bodyLen:bodyLen])), nil
}

package state

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
)

const magic = "PCSSTAT1"

// Limits a reader enforces, so corrupt lengths cannot allocate without bound.
const (
	maxKeyLen   = 64 << 20
	maxValueLen = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SnapshotWriter writes a snapshot (see the package doc): Add each entry
// in strictly ascending key order, then Close. For backends' Snapshot.
type SnapshotWriter struct {
	dst  io.Writer
	w    *bufio.Writer
	crc  hash.Hash32
	n    uint64
	last []byte
	err  error
	buf  [binary.MaxVarintLen64]byte
}

// NewSnapshotWriter starts a snapshot on w.
func NewSnapshotWriter(w io.Writer) *SnapshotWriter {
	s := &SnapshotWriter{dst: w, crc: crc32.New(castagnoli)}
	s.w = bufio.NewWriterSize(io.MultiWriter(w, s.crc), 64<<10)
	s.write([]byte(magic))
	return s
}

func (s *SnapshotWriter) write(b []byte) {
	if s.err == nil {
		_, s.err = s.w.Write(b)
	}
}

func (s *SnapshotWriter) uvarint(v uint64) { s.write(s.buf[:binary.PutUvarint(s.buf[:], v)]) }

// Add writes one entry. key must sort after the previous entry's key.
func (s *SnapshotWriter) Add(key, value []byte) error {
	if s.n > 0 && bytes.Compare(key, s.last) <= 0 {
		return fmt.Errorf("state: snapshot: key %q after %q: keys must ascend", key, s.last)
	}
	s.last = append(s.last[:0], key...)
	s.write([]byte{1})
	s.uvarint(uint64(len(key)))
	s.write(key)
	s.uvarint(uint64(len(value)))
	s.write(value)
	s.n++
	return s.err
}

// Close writes the trailer and flushes; it does not close the writer
// given to NewSnapshotWriter.
func (s *SnapshotWriter) Close() error {
	s.write([]byte{0})
	s.uvarint(s.n)
	if s.err == nil {
		s.err = s.w.Flush()
	}
	if s.err != nil {
		return s.err
	}
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], s.crc.Sum32())
	// The checksum is not hashed: it goes to dst directly.
	s.err = errors.New("state: snapshot: Add after Close")
	_, err := s.dst.Write(sum[:])
	return err
}

// ReadSnapshot reads a snapshot from r, calling fn for each entry in key
// order. key and value are valid only until fn returns. It reads r to the
// snapshot's end (trailing bytes are an error) and checks the count and
// the checksum; errors of the stream wrap ErrSnapshot, and fn's error is
// returned as is. fn may have been called for entries before a corrupt
// one: a backend applies them only once ReadSnapshot returns nil.
func ReadSnapshot(r io.Reader, fn func(key, value []byte) error) error {
	crc := crc32.New(castagnoli)
	br := bufio.NewReaderSize(r, 64<<10)
	tr := &byteReader{r: br, h: crc}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrSnapshot, fmt.Sprintf(format, args...))
	}
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(tr, head); err != nil || string(head) != magic {
		return bad("no %q header", magic)
	}
	var key, last, value []byte
	var n uint64
	for {
		tag, err := tr.ReadByte()
		if err != nil {
			return bad("truncated after %d entries", n)
		}
		if tag == 0 {
			break
		}
		if tag != 1 {
			return bad("entry %d: tag %d", n, tag)
		}
		if key, err = readBytes(tr, key, maxKeyLen); err != nil {
			return bad("entry %d: key: %v", n, err)
		}
		if n > 0 && bytes.Compare(key, last) <= 0 {
			return bad("entry %d: keys out of order", n)
		}
		if value, err = readBytes(tr, value, maxValueLen); err != nil {
			return bad("entry %d: value: %v", n, err)
		}
		if err := fn(key, value); err != nil {
			return err
		}
		last = append(last[:0], key...)
		n++
	}
	count, err := binary.ReadUvarint(tr)
	if err != nil || count != n {
		return bad("trailer counts %d entries, read %d", count, n)
	}
	want := crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(br, sum[:]); err != nil {
		return bad("no checksum")
	}
	if binary.BigEndian.Uint32(sum[:]) != want {
		return bad("checksum mismatch")
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		return bad("bytes after the end")
	}
	return nil
}

func readBytes(r *byteReader, buf []byte, limit uint64) ([]byte, error) {
	l, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if l > limit {
		return nil, fmt.Errorf("length %d over %d", l, limit)
	}
	if uint64(cap(buf)) < l {
		buf = make([]byte, l)
	}
	buf = buf[:l]
	_, err = io.ReadFull(r, buf)
	return buf, err
}

// byteReader reads from r, hashing what it reads.
type byteReader struct {
	r *bufio.Reader
	h hash.Hash32
	b [1]byte
}

func (b *byteReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	return n, err
}

func (b *byteReader) ReadByte() (byte, error) {
	c, err := b.r.ReadByte()
	if err == nil {
		b.b[0] = c
		b.h.Write(b.b[:])
	}
	return c, err
}

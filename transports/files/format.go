package files

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pcs-dev/pcs/transports/avro"
)

// Format is a file format that Open reads and Create writes.
type Format int

// The formats. The zero Format is no format (detect it).
const (
	// Parquet: "PAR1" at both ends; .parquet.
	Parquet Format = iota + 1
	// ArrowFile: the Arrow IPC file format ("ARROW1" at both ends, a
	// footer indexing the batches); .arrow, .ipc, .feather (Feather v2).
	ArrowFile
	// ArrowStream: the Arrow IPC stream format (schema, batches,
	// end-of-stream marker; messages start with 0xFFFFFFFF); .arrows.
	ArrowStream
	// CSV: comma-separated values with a header; .csv, and .tsv with tabs.
	CSV
	// JSONL: one JSON object per line (JSON Lines); .jsonl, .ndjson.
	JSONL
	// Avro: an Avro object container file ("Obj\x01" at the start);
	// .avro. Read only: Create does not write it.
	Avro
)

// String returns "parquet", "arrow file", "arrow stream", "csv",
// "jsonl" or "avro" (the names pcs inspect prints).
func (f Format) String() string {
	switch f {
	case Parquet:
		return "parquet"
	case ArrowFile:
		return "arrow file"
	case ArrowStream:
		return "arrow stream"
	case CSV:
		return "csv"
	case JSONL:
		return "jsonl"
	case Avro:
		return "avro"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// extensions maps a lower-case file extension to its format.
var extensions = map[string]Format{
	".parquet": Parquet,
	".arrow":   ArrowFile,
	".ipc":     ArrowFile,
	".feather": ArrowFile,
	".arrows":  ArrowStream,
	".csv":     CSV,
	".tsv":     CSV,
	".jsonl":   JSONL,
	".ndjson":  JSONL,
	".avro":    Avro,
}

// knownNames lists the extensions for error messages.
const knownNames = ".parquet, .arrow (.ipc, .feather), .arrows, .csv (.tsv), .jsonl (.ndjson) or .avro"

// Magic bytes of the binary formats.
var (
	parquetMagic = []byte("PAR1")
	arrowMagic   = []byte("ARROW1")
	// streamStart opens every message of an Arrow IPC stream since format
	// version 0.15 (the continuation marker).
	streamStart = []byte{0xFF, 0xFF, 0xFF, 0xFF}
	utf8BOM     = []byte{0xEF, 0xBB, 0xBF}
	avroMagic   = avro.Magic // "Obj\x01"
)

// sniffBytes is how many bytes of a file Sniff reads.
const sniffBytes = 4096

// FormatOf returns the format that path's extension names (case does not
// matter): .parquet; .arrow, .ipc, .feather (Arrow IPC file); .arrows
// (Arrow IPC stream); .csv, .tsv; .jsonl, .ndjson; .avro. It reads nothing: it
// is how Create chooses. Another extension is an error wrapping
// ErrUnknownFormat that names path and the extensions it knows.
func FormatOf(path string) (Format, error) {
	if f, ok := extensions[strings.ToLower(filepath.Ext(path))]; ok {
		return f, nil
	}
	return 0, fmt.Errorf("%w: %s: name it %s", ErrUnknownFormat, path, knownNames)
}

// Sniff returns the format of the existing file at path, as Open
// detects it. The first bytes decide first, because they cannot lie:
// "PAR1" is Parquet, "ARROW1" an Arrow IPC file, 0xFFFFFFFF an Arrow IPC
// stream, "Obj\x01" an Avro object container file, whatever the file is
// called. Then the extension decides, as in
// FormatOf (CSV has no magic; an Arrow extension on other bytes is left
// to the Arrow reader, which also reads streams written before Arrow
// 0.15). Last, a file whose first non-blank byte (after a UTF-8 byte
// order mark) is '{' is JSON Lines.
//
// Errors: the file cannot be opened or read (the wrapped os error, which
// names path); path is a directory; a file of none of these formats, or
// empty with an unknown extension (wrapping ErrUnknownFormat, naming path
// and the formats it knows).
func Sniff(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("files: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("files: %w", err)
	}
	if st.IsDir() {
		return 0, fmt.Errorf("files: %s is a directory", path)
	}
	head := make([]byte, sniffBytes)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, fmt.Errorf("files: read %s: %w", path, err)
	}
	return detect(path, head[:n])
}

// detect tells the format of the file at path from its first bytes and
// its name (see Sniff).
func detect(path string, head []byte) (Format, error) {
	switch {
	case bytes.HasPrefix(head, parquetMagic):
		return Parquet, nil
	case bytes.HasPrefix(head, arrowMagic):
		return ArrowFile, nil
	case bytes.HasPrefix(head, streamStart):
		return ArrowStream, nil
	case bytes.HasPrefix(head, avroMagic):
		return Avro, nil
	}
	if f, err := FormatOf(path); err == nil {
		return f, nil
	}
	text := bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n")
	if len(text) > 0 && text[0] == '{' {
		return JSONL, nil
	}
	what := "its first bytes are"
	if len(head) == 0 {
		what = "it is empty, which is"
	}
	return 0, fmt.Errorf(`%w: %s: %s neither Parquet nor Arrow IPC nor Avro ("PAR1", "ARROW1", 0xFFFFFFFF, "Obj\x01") nor a JSON object, and its name is not %s`,
		ErrUnknownFormat, path, what, knownNames)
}

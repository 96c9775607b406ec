package parquet

import (
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"

	"github.com/pcs-dev/pcs/transports/internal/fileopt"
)

const (
	// DefaultBatchRows is the number of rows per batch a Source yields
	// unless WithBatchRows says otherwise (64 Ki rows).
	DefaultBatchRows int64 = 64 << 10

	// DefaultRowGroupRows is the number of rows per row group a Sink
	// writes unless WithRowGroupRows says otherwise (256 Ki rows). A
	// row group is encoded while the next one fills, and the last one
	// only after the last Write: smaller row groups overlap encoding
	// with the producer better and bound the buffered memory (2 row
	// groups), larger ones repeat fewer dictionaries. 256 Ki rows
	// halved the peak memory of the flights pipeline's `pcs run`
	// against 1 Mi rows (pyarrow's default) and ran it faster; below
	// 128 Ki rows the per-row-group cost shows (DuckDB writes 122880).
	// Readers parallelize over row groups, so a 3M-row file has 12.
	DefaultRowGroupRows int64 = 256 << 10

	// DefaultCompression is the codec a Sink uses unless WithCompression
	// says otherwise: snappy, the default of DuckDB, Spark and pyarrow. It
	// takes less CPU than zstd (the flights pipeline's sink: 0.56 vs 0.65
	// CPU-s per 3M rows; pcs run of the hourly window: 0.19 vs 0.21 s
	// whole) for a file about a fifth larger (31.7 vs 26.6 MB);
	// WithCompression(CodecZstd) when size matters more.
	DefaultCompression = CodecSnappy

	// DefaultMaxOpenPartitions is the number of partition directories a
	// partitioned Sink keeps a file open in unless WithMaxOpenPartitions
	// says otherwise.
	DefaultMaxOpenPartitions = 64
)

// SourceOption configures NewSource. Options are applied in order; one
// that returns an error makes NewSource fail with it.
type SourceOption = fileopt.Source[sourceConfig]

// SinkOption configures NewSink. Options are applied in order; one that
// returns an error makes NewSink fail with it.
type SinkOption = fileopt.Sink[sinkConfig]

// Option configures both a Source and a Sink (WithAllocator).
type Option = fileopt.Both[sourceConfig, sinkConfig]

type sourceConfig struct {
	fileopt.SourceBase          // Mem, BatchRows
	columns            []string // nil: all
	rowGroups          []int    // nil: all
	parallel           bool
	hive               bool
}

type sinkConfig struct {
	fileopt.SinkBase // Mem, Atomic
	rowGroupRows     int64
	codec            Codec
	level            int
	levelSet         bool
	rollRows         int64
	rollBytes        int64
	partitionBy      []string // nil: not partitioned
	maxOpen          int
}

// WithAllocator sets the allocator for the Arrow and Parquet buffers a
// Source decodes into or a Sink encodes with. The default is
// memory.DefaultAllocator. Tests pass a memory.CheckedAllocator. nil is
// ErrInvalidOption.
func WithAllocator(mem memory.Allocator) Option {
	return fileopt.Allocator[sourceConfig, sinkConfig](ErrInvalidOption, mem)
}

// WithColumns restricts a Source to the named top-level columns, in the
// order given (a nested column is read with all its children). A name
// the file does not have makes NewSource fail with ErrUnknownColumn; an
// empty list or a name given twice is ErrInvalidOption. Default: all
// columns in file order.
func WithColumns(names ...string) SourceOption {
	names = slices.Clone(names)
	return fileopt.SourceFunc(func(c *sourceConfig) error {
		if len(names) == 0 {
			return fmt.Errorf("%w: WithColumns needs at least one column", ErrInvalidOption)
		}
		seen := make(map[string]bool, len(names))
		for _, n := range names {
			if seen[n] {
				return fmt.Errorf("%w: column %q listed twice in WithColumns", ErrInvalidOption, n)
			}
			seen[n] = true
		}
		c.columns = names
		return nil
	})
}

// WithRowGroups restricts a Source to the row groups with the given
// indices (0-based), read in the order given. An index out of range makes
// NewSource fail with ErrInvalidOption; an index given twice too. An
// empty list selects nothing: the first Read returns io.EOF. Default: all
// row groups in file order.
func WithRowGroups(indices ...int) SourceOption {
	indices = slices.Clone(indices)
	if indices == nil {
		indices = []int{}
	}
	return fileopt.SourceFunc(func(c *sourceConfig) error {
		seen := make(map[int]bool, len(indices))
		for _, i := range indices {
			if seen[i] {
				return fmt.Errorf("%w: row group %d listed twice in WithRowGroups", ErrInvalidOption, i)
			}
			seen[i] = true
		}
		c.rowGroups = indices
		return nil
	})
}

// WithBatchRows sets the maximum number of rows per batch a Source
// yields (n > 0; default DefaultBatchRows). Batches span row-group
// boundaries: every batch but the last has exactly n rows.
func WithBatchRows(n int64) SourceOption {
	return fileopt.BatchRows[sourceConfig](ErrInvalidOption, n)
}

// WithParallel makes a Source decode the columns of each batch
// concurrently, one goroutine per column (pqarrow's
// ArrowReadProperties.Parallel). Default false: columns are decoded one
// after the other on the calling goroutine.
func WithParallel(on bool) SourceOption {
	return fileopt.SourceFunc(func(c *sourceConfig) error {
		c.parallel = on
		return nil
	})
}

// WithHivePartitioning makes a Source add the Hive partition columns of
// its file's path, as written by a Sink with WithPartitionBy: the
// trailing directories of the form "<col>=<value>" (".../a=1/b=x/f.parquet"
// gives a = "1", b = "x"), read as nullable string columns appended
// after the file's columns, in path order, with every row of the file
// holding the directory's value (percent-escapes decoded;
// HiveDefaultPartition reads as null). Values are not converted back to
// their written type: cast them if needed. WithColumns selects file
// columns only; partition columns are always added. A partition column
// named like a file column makes NewSource fail with ErrInvalidOption.
// Default false.
func WithHivePartitioning(on bool) SourceOption {
	return fileopt.SourceFunc(func(c *sourceConfig) error {
		c.hive = on
		return nil
	})
}

// Codec names a Parquet compression codec.
type Codec string

// The codecs a Sink can write. Parsing config values: Codec(s), then
// NewSink validates it.
const (
	CodecNone   Codec = "none"
	CodecZstd   Codec = "zstd"
	CodecSnappy Codec = "snappy"
	CodecLZ4    Codec = "lz4" // LZ4_RAW, the Parquet codec that replaced the deprecated LZ4
	CodecGzip   Codec = "gzip"
	CodecBrotli Codec = "brotli"
)

func (c Codec) compression() (compress.Compression, error) {
	switch c {
	case CodecNone, "uncompressed", "":
		return compress.Codecs.Uncompressed, nil
	case CodecZstd:
		return compress.Codecs.Zstd, nil
	case CodecSnappy:
		return compress.Codecs.Snappy, nil
	case CodecLZ4, "lz4_raw":
		return compress.Codecs.Lz4Raw, nil
	case CodecGzip:
		return compress.Codecs.Gzip, nil
	case CodecBrotli:
		return compress.Codecs.Brotli, nil
	}
	return 0, fmt.Errorf("%w: unknown compression %q (want none, zstd, snappy, lz4, gzip or brotli)", ErrInvalidOption, string(c))
}

// WithCompression sets the codec of every column (default
// DefaultCompression, snappy). An unknown codec is ErrInvalidOption.
func WithCompression(c Codec) SinkOption {
	return fileopt.SinkFunc(func(cfg *sinkConfig) error {
		if _, err := c.compression(); err != nil {
			return err
		}
		cfg.codec = c
		return nil
	})
}

// WithCompressionLevel sets the codec's level (meaning and range are the
// codec's: zstd 1-22, gzip 1-9, brotli 0-11). Default: the codec's
// default.
func WithCompressionLevel(level int) SinkOption {
	return fileopt.SinkFunc(func(cfg *sinkConfig) error {
		cfg.level, cfg.levelSet = level, true
		return nil
	})
}

// WithRowGroupRows sets the number of rows per row group (n > 0; default
// DefaultRowGroupRows). The Sink buffers that many rows (as Arrow data,
// retained from the written batches) before encoding them, and encodes
// full row groups while the next one fills, holding up to two full ones
// (one encoding, one waiting), so 3n rows bound its memory (n with
// WithRollBytes, which encodes in line). Flush, Close and rolling end a row group early.
func WithRowGroupRows(n int64) SinkOption {
	return fileopt.SinkFunc(func(cfg *sinkConfig) error {
		if n <= 0 || n > pq.DefaultMaxRowGroupLen {
			return fmt.Errorf("%w: row group rows must be in 1..%d, got %d", ErrInvalidOption, pq.DefaultMaxRowGroupLen, n)
		}
		cfg.rowGroupRows = n
		return nil
	})
}

// WithRollRows makes the Sink start a new file after n rows (n > 0).
// Every file but the last holds exactly n rows. Enables numbered file
// names (see the package doc). Default: no rolling.
func WithRollRows(n int64) SinkOption {
	return fileopt.SinkFunc(func(cfg *sinkConfig) error {
		if n <= 0 {
			return fmt.Errorf("%w: roll rows must be > 0, got %d", ErrInvalidOption, n)
		}
		cfg.rollRows = n
		return nil
	})
}

// WithRollBytes makes the Sink start a new file when the current one
// reaches about n bytes (n > 0) on disk. The sink cuts row groups so that
// each file ends near n, using the encoded bytes per row and the footer
// size measured so far: files after the first land within a few percent
// of n; the first file, before any footer was measured, can exceed n by
// its footer (Parquet footers of wide files with string statistics are
// several KiB); the sink's first row group is sized by the Arrow size of
// the data, which overestimates, so it never overshoots. Enables
// numbered file names. Default: no rolling. With WithRollRows too,
// whichever limit is reached first ends the file.
func WithRollBytes(n int64) SinkOption {
	return fileopt.SinkFunc(func(cfg *sinkConfig) error {
		if n <= 0 {
			return fmt.Errorf("%w: roll bytes must be > 0, got %d", ErrInvalidOption, n)
		}
		cfg.rollBytes = n
		return nil
	})
}

// WithAtomicRename makes the Sink write each file under a hidden
// temporary name in the destination directory (".<name>.<random>.tmp")
// and rename it to its final name once complete (after fsync), so a
// reader never sees a partial file. A sink that fails or is closed with
// a cancelled context removes its temporary file. Default false: files
// are written in place.
func WithAtomicRename(on bool) SinkOption { return fileopt.AtomicRename[sinkConfig](on) }

// WithPartitionBy makes the Sink write Hive-style partition directories,
// as Spark, Hive, DuckDB and Flink do: each batch is split by the values
// of the named columns, and the rows of each distinct key go to files in
// "<root>/<col1>=<v1>/<col2>=<v2>/" (see NewSink for the file names and
// the package doc for the value format). The partition columns are not
// stored in the files: their schema is the sink's schema without them.
//
// A partition column must be a top-level column of type string,
// large_string, a signed or unsigned integer, bool, date32, date64 or
// timestamp; not every column may be a partition column. Otherwise, or
// when a name is unknown or given twice, NewSink fails with
// ErrInvalidOption. Rolling (WithRollRows, WithRollBytes) applies to
// each partition directory on its own.
func WithPartitionBy(cols ...string) SinkOption {
	cols = slices.Clone(cols)
	return fileopt.SinkFunc(func(cfg *sinkConfig) error {
		if len(cols) == 0 {
			return fmt.Errorf("%w: WithPartitionBy needs at least one column", ErrInvalidOption)
		}
		seen := make(map[string]bool, len(cols))
		for _, n := range cols {
			if seen[n] {
				return fmt.Errorf("%w: column %q listed twice in WithPartitionBy", ErrInvalidOption, n)
			}
			seen[n] = true
		}
		cfg.partitionBy = cols
		return nil
	})
}

// WithMaxOpenPartitions bounds the number of partition directories a
// partitioned Sink has a file open in (n > 0; default
// DefaultMaxOpenPartitions). Each open partition holds an open file and
// up to WithRowGroupRows buffered rows, so n times the row group size
// bounds the sink's buffered memory. When a batch brings rows for a new
// partition while n are open, the least recently written partition is
// closed: its file is finished (footer, fsync, rename) and its later
// rows, if any, go to a new file with the next number in the same
// directory. No row is lost, but keys that come and go often make many
// small files: raise n, or sort or cluster the input by the partition
// columns. Without WithPartitionBy the option has no effect.
func WithMaxOpenPartitions(n int) SinkOption {
	return fileopt.SinkFunc(func(cfg *sinkConfig) error {
		if n <= 0 {
			return fmt.Errorf("%w: max open partitions must be > 0, got %d", ErrInvalidOption, n)
		}
		cfg.maxOpen = n
		return nil
	})
}

package natsjs_test

import (
	"context"
	"fmt"
	"github.com/apache/arrow-go/v18/arrow/util"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/natsjs"
)

var benchRows = []int{8 << 10, 64 << 10, 256 << 10}

var benchComps = []natsjs.Compression{natsjs.CompressionNone, natsjs.CompressionLZ4, natsjs.CompressionZstd}

// BenchmarkEncode reports the encoded size ("bytes"), rows/s and, through
// SetBytes, the rate in MB/s of the batch's Arrow buffers.
func BenchmarkEncode(b *testing.B) {
	for _, rows := range benchRows {
		rec := flights(memory.DefaultAllocator, 0, rows)
		for _, comp := range benchComps {
			b.Run(fmt.Sprintf("rows=%dk/%s", rows>>10, comp), func(b *testing.B) {
				recs := []arrow.RecordBatch{rec}
				opts := natsjs.EncodeOptions{Compression: comp}
				var body []byte
				b.SetBytes(util.TotalRecordSize(rec))
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if body, err = natsjs.Encode(recs, opts); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(body)), "bytes")
				b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
		rec.Release()
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, rows := range benchRows {
		rec := flights(memory.DefaultAllocator, 0, rows)
		for _, comp := range benchComps {
			body, err := natsjs.Encode([]arrow.RecordBatch{rec}, natsjs.EncodeOptions{Compression: comp})
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("rows=%dk/%s", rows>>10, comp), func(b *testing.B) {
				b.SetBytes(util.TotalRecordSize(rec))
				b.ReportAllocs()
				for b.Loop() {
					out, err := natsjs.Decode(body, memory.DefaultAllocator)
					if err != nil {
						b.Fatal(err)
					}
					release(out)
				}
				b.ReportMetric(float64(len(body)), "bytes")
				b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
		rec.Release()
	}
}

// BenchmarkPublishConsume runs a producer and a consumer at once through
// an in-process JetStream (file store): the producer Writes partitions,
// the consumer Fetches, decodes and acks them. MB/s counts encoded
// partition bytes end to end.
func BenchmarkPublishConsume(b *testing.B) {
	for _, bc := range []struct {
		name string
		rows int
		comp natsjs.Compression
	}{
		{"inline/rows=16k", 16 << 10, natsjs.CompressionNone},
		{"inline/rows=64k/zstd", 64 << 10, natsjs.CompressionZstd},
		{"claimcheck/rows=64k", 64 << 10, natsjs.CompressionNone},
	} {
		b.Run(bc.name, func(b *testing.B) {
			js := startJetStream(b)
			st := createStream(b, js, "BENCH", "bench.>")
			cons := createConsumer(b, st, "c")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			rec := flights(memory.DefaultAllocator, 0, bc.rows)
			defer rec.Release()
			body, err := natsjs.Encode([]arrow.RecordBatch{rec}, natsjs.EncodeOptions{Compression: bc.comp})
			if err != nil {
				b.Fatal(err)
			}
			pub, err := natsjs.NewPublisher(js, "bench.in", natsjs.WithSourceID("bench"), natsjs.WithCompression(bc.comp))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			var wg sync.WaitGroup
			wg.Add(1)
			var perr error
			go func() {
				defer wg.Done()
				for i := 0; i < b.N; i++ {
					if perr = pub.Write(ctx, rec); perr != nil {
						return
					}
				}
				perr = pub.Flush(ctx)
			}()
			for got := 0; got < b.N; {
				ps, err := natsjs.Fetch(ctx, cons, 16, 0)
				if err != nil {
					b.Fatal(err)
				}
				for _, p := range ps {
					out, err := p.Decode(ctx, js, memory.DefaultAllocator)
					if err != nil {
						b.Fatal(err)
					}
					release(out)
					if err := p.Ack(ctx); err != nil {
						b.Fatal(err)
					}
				}
				got += len(ps)
			}
			wg.Wait()
			b.StopTimer()
			if perr != nil {
				b.Fatal(perr)
			}
			b.ReportMetric(float64(bc.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			if s := pub.Stats(); s.Retries > 0 {
				b.Logf("publish retries: %d", s.Retries)
			}
			_ = pub.Close(ctx)
		})
	}
}

package growth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/transports/natsjs"
)

// The flights pipeline's subjects and streams (examples/flights/node.toml:
// pipeline "flights"; the streams are pcs-node's defaults).
const (
	inputSubject  = "flights.raw"
	outputSubject = "flights.enriched"
	pipelineName  = "flights"
)

// stallTimeout is how long the consumer waits for the next output
// partition before the run fails; every pollWait without one it checks
// whether the node is done (then missing rows fail at once).
const (
	stallTimeout = time.Minute
	pollWait     = 2 * time.Second
)

// Expect returns the sums the pipeline's output of Each(rows, ...) must
// have, without generating the partitions.
func (b *Base) Expect(rows int64) (Sums, error) {
	var want Sums
	var done int64
	for k := int64(0); done < rows; k++ {
		for i, rec := range b.Batches {
			if done >= rows {
				break
			}
			n := rec.NumRows()
			s := b.Sums[i]
			if done+n > rows {
				n = rows - done
				part := rec.NewSlice(0, n)
				var err error
				s, err = ExpectedSums(part)
				part.Release()
				if err != nil {
					return Sums{}, err
				}
			}
			want.Add(s.shifted(k * b.Span))
			done += n
		}
	}
	return want, nil
}

// Session is the benchmark's side of one running node: a connection to
// its broker, a publisher per run and one Source over a durable consumer
// of the pipeline's output subject.
type Session struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	src *natsjs.Source
}

// OpenSession connects to the node's broker at url and creates the
// output consumer.
func OpenSession(ctx context.Context, url string) (*Session, error) {
	nc, err := nats.Connect(url, nats.Name("pcs bench/growth"))
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, natsjs.OutputStream(pipelineName), jetstream.ConsumerConfig{
		Durable: "growth", FilterSubject: outputSubject, AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: -1})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("growth: output consumer: %w", err)
	}
	src, err := natsjs.NewSource(cons, js, natsjs.WithFollow(true), natsjs.WithFetchLimits(64, natsjs.DefaultFetchBytes))
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &Session{nc: nc, js: js, src: src}, nil
}

// Close closes the Source and the connection.
func (s *Session) Close() {
	_ = s.src.Close()
	s.nc.Close()
}

// Result is one run: the input published, the output consumed.
type Result struct {
	Elapsed    time.Duration // first publish to the last output row consumed
	Published  time.Duration // first publish to the last publish ack
	Rows       int64         // input rows
	Partitions int           // input partitions
	Want, Got  Sums
}

// Run publishes base.Each(rows) to the pipeline's input subject as
// partitions "<sourceID>/<seq>" while it consumes the outputs, until
// their rows reach the expected count, and times that. It fails when the
// outputs' sums differ from the expected ones, or when more outputs
// arrive once the node has taken every input partition.
func (s *Session) Run(ctx context.Context, base *Base, rows int64, sourceID string) (Result, error) {
	want, err := base.Expect(rows)
	if err != nil {
		return Result{}, err
	}
	pub, err := natsjs.NewPublisher(s.js, inputSubject, natsjs.WithSourceID(sourceID))
	if err != nil {
		return Result{}, err
	}
	res := Result{Want: want}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	published := make(chan error, 1)
	var sent Sums
	start := time.Now()
	go func() {
		err := base.Each(rows, func(rec arrow.RecordBatch, w Sums) error {
			res.Rows += rec.NumRows()
			res.Partitions++
			sent.Add(w)
			return pub.Write(pctx, rec)
		})
		err = errors.Join(err, pub.Close(pctx))
		res.Published = time.Since(start)
		published <- err
	}()
	var got Sums
	var pubErr error
	pubDone := false
	last := time.Now() // of the last output partition
	for got.Rows < want.Rows {
		nctx, ncancel := context.WithTimeout(ctx, pollWait)
		_, recs, err := s.src.Next(nctx)
		ncancel()
		if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			// Nothing for pollWait: fail once the node has taken every
			// input partition and left no output unread, or when
			// nothing came for stallTimeout.
			if !pubDone {
				select {
				case pubErr = <-published:
					pubDone = true
				default:
				}
			}
			if pubErr != nil {
				return res, fmt.Errorf("growth: publish: %w", pubErr)
			}
			if pubDone && s.drained(ctx) {
				return res, fmt.Errorf("growth: WRONG OUTPUT: the node took every input partition and published %d rows, want %d", got.Rows, want.Rows)
			}
			if time.Since(last) < stallTimeout {
				continue
			}
			err = errStalled
		}
		if err != nil {
			cancel()
			if !pubDone {
				<-published
			}
			return res, fmt.Errorf("growth: after %d of %d output rows: %w", got.Rows, want.Rows, err)
		}
		last = time.Now()
		for _, r := range recs {
			if err == nil {
				var o Sums
				o, err = OutputSums(r)
				got.Add(o)
			}
			r.Release()
		}
		if err == nil && s.src.Buffered() == 0 {
			err = s.src.Ack(ctx)
		}
		if err != nil {
			cancel()
			if !pubDone {
				<-published
			}
			return res, err
		}
	}
	res.Elapsed = time.Since(start)
	res.Got = got
	if !pubDone {
		pubErr = <-published
	}
	if pubErr != nil {
		return res, fmt.Errorf("growth: publish: %w", pubErr)
	}
	if err := s.src.Ack(ctx); err != nil {
		return res, err
	}
	if sent != want {
		return res, fmt.Errorf("growth: the generator published sums %+v, Expect says %+v", sent, want)
	}
	if got != want {
		return res, fmt.Errorf("growth: WRONG OUTPUT: got rows %d, sum(delay) %d, sum(distance) %d, date sum %d; want %d, %d, %d, %d",
			got.Rows, got.Delay, got.Distance, got.Dates, want.Rows, want.Delay, want.Distance, want.Dates)
	}
	return res, s.settled(ctx)
}

// drained reports whether the node's input consumer has nothing
// pending or unacknowledged and the output consumer nothing pending.
func (s *Session) drained(ctx context.Context) bool {
	in, err := s.js.Consumer(ctx, natsjs.InputStream(pipelineName), pipelineName)
	if err != nil {
		return false
	}
	info, err := in.Info(ctx)
	if err != nil || info.NumPending > 0 || info.NumAckPending > 0 {
		return false
	}
	out, err := s.src.Consumer().Info(ctx)
	return err == nil && out.NumPending == 0 && s.src.Buffered() == 0
}

// settled waits until the node has taken and acked every input
// partition, then checks that no output is left unread.
func (s *Session) settled(ctx context.Context) error {
	in, err := s.js.Consumer(ctx, natsjs.InputStream(pipelineName), pipelineName)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := in.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("growth: the node's input consumer still has %d pending, %d unacked", info.NumPending, info.NumAckPending)
		}
		time.Sleep(20 * time.Millisecond)
	}
	info, err := s.src.Consumer().Info(ctx)
	if err != nil {
		return err
	}
	if n := s.src.Buffered(); n > 0 || info.NumPending > 0 {
		return fmt.Errorf("growth: WRONG OUTPUT: %d more output partitions after the expected rows (%d fetched)", info.NumPending, n)
	}
	return nil
}

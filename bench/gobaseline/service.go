// Package gobaseline is what a Go team would write instead of PCS for the
// flights job (issue 15 item 4): a plain nats.go service that takes JSON
// row batches from a JetStream stream, keeps the flights with a delay and
// a positive distance, looks up origin and destination in airports.csv,
// adds delayed (delay > 15) and route (origin-destination), and publishes
// the enriched rows as JSON to an output stream: async publishes with
// every ack checked before the input message is acked, a worker per core.
// JSON is github.com/goccy/go-json (a drop-in, faster encoding/json).
// BenchmarkGoService runs it beside PCS on the same embedded JetStream.
package gobaseline

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go/jetstream"
)

// Flight is an input row.
type Flight struct {
	Date        time.Time `json:"date"`
	Delay       *int64    `json:"delay"`
	Distance    int64     `json:"distance"`
	Origin      string    `json:"origin"`
	Destination string    `json:"destination"`
}

// Enriched is an output row: the flight and what the job adds. Airport
// fields are null when the code is not in airports.csv.
type Enriched struct {
	Flight
	OriginCity  *string `json:"origin_city"`
	OriginState *string `json:"origin_state"`
	DestCity    *string `json:"dest_city"`
	DestState   *string `json:"dest_state"`
	Delayed     bool    `json:"delayed"`
	Route       string  `json:"route"`
}

// Airport is a row of airports.csv.
type Airport struct{ City, State string }

// LoadAirports reads airports.csv (iata,name,city,state,...) keyed by IATA
// code; the first row of a code wins.
func LoadAirports(path string) (map[string]*Airport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, err
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, h := range []string{"iata", "city", "state"} {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("%s: no column %q", path, h)
		}
	}
	m := map[string]*Airport{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return nil, err
		}
		if _, ok := m[rec[col["iata"]]]; !ok {
			m[rec[col["iata"]]] = &Airport{City: rec[col["city"]], State: rec[col["state"]]}
		}
	}
}

// Enrich is the job on one batch: filter, the two lookups, the two
// derived fields.
func Enrich(in []Flight, airports map[string]*Airport) []Enriched {
	out := make([]Enriched, 0, len(in))
	for _, f := range in {
		if f.Delay == nil || f.Distance <= 0 {
			continue
		}
		e := Enriched{Flight: f, Delayed: *f.Delay > 15, Route: f.Origin + "-" + f.Destination}
		if a := airports[f.Origin]; a != nil {
			e.OriginCity, e.OriginState = &a.City, &a.State
		}
		if a := airports[f.Destination]; a != nil {
			e.DestCity, e.DestState = &a.City, &a.State
		}
		out = append(out, e)
	}
	return out
}

// Service consumes In, publishes to OutSubject.
type Service struct {
	JS         jetstream.JetStream
	In         jetstream.Consumer
	OutSubject string
	Airports   map[string]*Airport
	Workers    int // default runtime.GOMAXPROCS(0)
}

type pending struct {
	msg jetstream.Msg
	ack jetstream.PubAckFuture
}

// Run processes messages until ctx is done; it returns the first error.
func (s *Service) Run(ctx context.Context) error {
	workers := s.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	acks := make(chan pending, 64)
	var wg, ackWG sync.WaitGroup
	// The acker: an input message is acked once its output is stored.
	ackWG.Add(1)
	go func() {
		defer ackWG.Done()
		for p := range acks {
			select {
			case <-p.ack.Ok():
				if err := p.msg.Ack(); err != nil {
					cancel(err)
				}
			case err := <-p.ack.Err():
				_ = p.msg.Nak()
				cancel(fmt.Errorf("publish: %w", err))
			case <-ctx.Done():
				return
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				// Each worker pulls its next message itself.
				batch, err := s.In.Fetch(1, jetstream.FetchMaxWait(time.Second))
				if err != nil {
					if ctx.Err() == nil {
						cancel(err)
					}
					return
				}
				for m := range batch.Messages() {
					var in []Flight
					if err := json.Unmarshal(m.Data(), &in); err != nil {
						_ = m.Term() // malformed: never valid
						continue
					}
					body, err := json.Marshal(Enrich(in, s.Airports))
					if err != nil {
						cancel(err)
						return
					}
					meta, err := m.Metadata()
					if err != nil {
						cancel(err)
						return
					}
					// The input's stream sequence as the message id: a
					// redelivered input is deduplicated downstream.
					paf, err := s.JS.PublishAsync(s.OutSubject, body, jetstream.WithMsgID(fmt.Sprintf("out-%d", meta.Sequence.Stream)))
					if err != nil {
						cancel(err)
						return
					}
					select {
					case acks <- pending{m, paf}:
					case <-ctx.Done():
						return
					}
				}
				// batch.Error(): a timeout or a missed heartbeat; pull again.
			}
		}()
	}
	wg.Wait()
	close(acks)
	ackWG.Wait()
	if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

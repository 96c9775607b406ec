package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// scenarios is the fault matrix, in table order.
var scenarios = []scenario{
	{name: "kill -9 worker", fault: func(ctx context.Context, r *run) error {
		m, err := r.f.follower(ctx)
		if err != nil {
			return err
		}
		r.inject(ctx)
		m.p().Kill()
		time.Sleep(time.Second)
		return r.restart(ctx, m)
	}},
	{name: "kill -9 leader", fault: func(ctx context.Context, r *run) error {
		m, err := r.f.leader(ctx)
		if err != nil {
			return err
		}
		r.inject(ctx)
		m.p().Kill()
		time.Sleep(time.Second)
		return r.restart(ctx, m)
	}},
	{name: "kill -9 broker", fault: func(ctx context.Context, r *run) error {
		r.inject(ctx)
		r.f.broker.Kill()
		time.Sleep(time.Second)
		return r.f.startBroker(ctx)
	}},
	{name: "SIGSTOP worker 3 s (> ack_wait 2 s)", fault: func(ctx context.Context, r *run) error {
		m, err := r.f.follower(ctx)
		if err != nil {
			return err
		}
		r.inject(ctx)
		signalAll(syscall.SIGSTOP, m)
		time.Sleep(3 * time.Second)
		signalAll(syscall.SIGCONT, m)
		return nil
	}},
	{name: "SIGSTOP worker 8 s (> duplicate window 1 s, > dead_node_timeout 5 s)", fault: func(ctx context.Context, r *run) error {
		m, err := r.f.follower(ctx)
		if err != nil {
			return err
		}
		r.inject(ctx)
		signalAll(syscall.SIGSTOP, m)
		time.Sleep(8 * time.Second)
		signalAll(syscall.SIGCONT, m)
		// It was removed from the catalog meanwhile: it re-joins by itself.
		return r.f.waitVoters(ctx, 3, time.Minute)
	}},
	{name: "quorum lost 4 s (two nodes SIGSTOPped; > duplicate window)", fault: func(ctx context.Context, r *run) error {
		l, err := r.f.leader(ctx)
		if err != nil {
			return err
		}
		f, err := r.f.follower(ctx)
		if err != nil {
			return err
		}
		r.inject(ctx)
		signalAll(syscall.SIGSTOP, l, f)
		time.Sleep(4 * time.Second)
		signalAll(syscall.SIGCONT, l, f)
		return r.f.waitVoters(ctx, 3, time.Minute)
	}},
	{name: "whole-fleet restart (SIGTERM all)", fault: func(ctx context.Context, r *run) error {
		r.inject(ctx)
		errs := make(chan error, len(r.f.nodes))
		for _, m := range r.f.nodes {
			go func() { errs <- m.p().Terminate(20 * time.Second) }()
		}
		for range r.f.nodes {
			if err := <-errs; err != nil {
				return err
			}
		}
		return r.restartAll(ctx)
	}},
	{name: "rolling restart (SIGTERM one by one)", fault: func(ctx context.Context, r *run) error {
		r.inject(ctx)
		for _, m := range r.f.nodes {
			if err := m.p().Terminate(20 * time.Second); err != nil {
				return err
			}
			if err := r.restart(ctx, m); err != nil {
				return err
			}
			if err := r.f.waitVoters(ctx, 3, time.Minute); err != nil {
				return err
			}
		}
		return nil
	}},
	{name: "sink full 4 s (max_bytes reached)", fault: func(ctx context.Context, r *run) error {
		s, err := r.f.js.Stream(ctx, outStream)
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		cfg := info.Config
		full := cfg
		full.MaxBytes = max(int64(info.State.Bytes), 1)
		r.inject(ctx)
		if _, err := r.f.js.UpdateStream(ctx, full); err != nil {
			return fmt.Errorf("shrink the sink: %w", err)
		}
		time.Sleep(4 * time.Second)
		_, err = r.f.js.UpdateStream(ctx, cfg)
		return err
	}},
	{name: "partitioned node 6 s (its namespace's link cut; > dead_node_timeout 5 s)", net: true, skip: labUnavailable, fault: func(ctx context.Context, r *run) error {
		m, err := r.f.follower(ctx)
		if err != nil {
			return err
		}
		return r.partition(ctx, m, 6*time.Second)
	}},
	{name: "partitioned leader 6 s (the catalog leader's link cut)", net: true, skip: labUnavailable, fault: func(ctx context.Context, r *run) error {
		m, err := r.f.leader(ctx)
		if err != nil {
			return err
		}
		return r.partition(ctx, m, 6*time.Second)
	}},
	{name: "flapping link 5 s (the leader's link down/up every 500 ms)", net: true, skip: labUnavailable, fault: func(ctx context.Context, r *run) error {
		m, err := r.f.leader(ctx)
		if err != nil {
			return err
		}
		i := r.f.index(m)
		r.inject(ctx)
		for range 5 {
			if err := r.f.lab.cut(i); err != nil {
				return err
			}
			time.Sleep(500 * time.Millisecond)
			if err := r.f.lab.heal(i); err != nil {
				return err
			}
			time.Sleep(500 * time.Millisecond)
		}
		return r.f.waitVoters(ctx, 3, time.Minute)
	}},
	{name: "100 ms latency (netem on every node's link, for the rest of the run)", net: true, skip: netemUnavailable, fault: func(ctx context.Context, r *run) error {
		r.inject(ctx)
		return r.f.lab.delay("100ms")
	}},
	{name: "store full 4 s (broker store on a 32 MiB tmpfs, filled, then freed)", storeMiB: 32, skip: tmpfsUnavailable, fault: func(ctx context.Context, r *run) error {
		return r.fillStore(ctx, 4*time.Second)
	}},
	{name: "forged catalog commands (key_file set)", fault: func(ctx context.Context, r *run) error {
		r.inject(ctx)
		return r.forge()
	}},
	{name: "malformed partitions (10 kinds)", fault: func(ctx context.Context, r *run) error {
		r.inject(ctx)
		return r.malformedPartitions(ctx)
	}},
}

// partition cuts m's link (its namespace reaches neither the broker nor
// its Raft peers) for d, heals it, and waits until the catalog has its
// three voters again (m, removed after dead_node_timeout, re-joins).
func (r *run) partition(ctx context.Context, m *member, d time.Duration) error {
	i := r.f.index(m)
	r.inject(ctx)
	if err := r.f.lab.cut(i); err != nil {
		return err
	}
	time.Sleep(d)
	if err := r.f.lab.heal(i); err != nil {
		return err
	}
	return r.f.waitVoters(ctx, 3, time.Minute)
}

// fillStore fills the broker's JetStream store with a filler stream until
// a publish fails for lack of space ("insufficient resources"), keeps it
// full for d, then frees the space by deleting the filler. Meanwhile the
// driver's publishes to the input fail and are retried; the sink's
// max_bytes is reserved when it is created, so the nodes' output
// publishes still fit. The recovery runs until the partitions published
// in the second after the space was freed are done.
func (r *run) fillStore(ctx context.Context, d time.Duration) error {
	const filler = "CHAOS_FILL"
	if _, err := r.f.js.CreateStream(ctx, jetstream.StreamConfig{Name: filler, Subjects: []string{"chaos.fill"}}); err != nil {
		return fmt.Errorf("create the filler: %w", err)
	}
	chunk := make([]byte, 256<<10)
	var full error
	for i := 0; full == nil; i++ {
		if i > 1000 {
			return errors.New("the store did not fill with 250 MiB")
		}
		_, full = r.f.js.Publish(ctx, "chaos.fill", chunk)
	}
	var api *jetstream.APIError
	if !errors.As(full, &api) || !strings.Contains(strings.ToLower(api.Description), "resources") {
		return fmt.Errorf("filling the store: want an insufficient-resources error, got %w", full)
	}
	r.release = make(chan struct{})
	r.inject(ctx)
	time.Sleep(d)
	err := r.f.js.DeleteStream(ctx, filler)
	close(r.release)
	return err
}

// malformedPartitions publishes ten kinds of bad partition to the input;
// each must be dead-lettered while the good ones flow.
func (r *run) malformedPartitions(ctx context.Context) error {
	good := encodeGood()
	kinds := []struct {
		name    string
		body    []byte
		headers map[string]string
	}{
		{"empty", nil, nil},
		{"garbage", []byte("this is not arrow"), nil},
		{"truncated", good[:len(good)/2], nil},
		{"corrupt", corrupt(good), nil},
		{"json", []byte(`{"row_id": 1}`), nil},
		{"wrong schema", encodeWith("x", false), nil},
		{"wrong types", encodeWith("row_id", true), nil},
		{"bad rows header", good, map[string]string{"Pcs-Rows": "-7"}},
		{"absurd rows header", good, map[string]string{"Pcs-Rows": "99999999999999999999"}},
		{"bad schema header", good, map[string]string{"Pcs-Schema": "zzzz"}},
	}
	for i, k := range kinds {
		msg := nats.NewMsg(inSubject)
		msg.Data = k.body
		msg.Header.Set("Nats-Msg-Id", fmt.Sprintf("bad/%d", i+1))
		for h, v := range k.headers {
			msg.Header.Set(h, v)
		}
		if _, err := r.f.js.PublishMsg(ctx, msg, jetstream.WithMsgID(fmt.Sprintf("bad/%d", i+1))); err != nil {
			return fmt.Errorf("publish %s: %w", k.name, err)
		}
	}
	r.malformed = int64(len(kinds))
	return nil
}

package main

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// scenarios is the fault matrix, in table order.
var scenarios = []scenario{
	{"kill -9 worker", func(ctx context.Context, r *run) error {
		m, err := r.f.follower(ctx)
		if err != nil {
			return err
		}
		r.inject(ctx)
		m.p().kill()
		time.Sleep(time.Second)
		return r.restart(ctx, m)
	}},
	{"kill -9 leader", func(ctx context.Context, r *run) error {
		m, err := r.f.leader(ctx)
		if err != nil {
			return err
		}
		r.inject(ctx)
		m.p().kill()
		time.Sleep(time.Second)
		return r.restart(ctx, m)
	}},
	{"kill -9 broker", func(ctx context.Context, r *run) error {
		r.inject(ctx)
		r.f.broker.kill()
		time.Sleep(time.Second)
		return r.f.startBroker(ctx)
	}},
	{"SIGSTOP worker 3 s (> ack_wait 2 s)", func(ctx context.Context, r *run) error {
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
	{"SIGSTOP worker 8 s (> duplicate window 1 s, > dead_node_timeout 5 s)", func(ctx context.Context, r *run) error {
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
	{"quorum lost 4 s (two nodes SIGSTOPped; > duplicate window)", func(ctx context.Context, r *run) error {
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
	{"whole-fleet restart (SIGTERM all)", func(ctx context.Context, r *run) error {
		r.inject(ctx)
		errs := make(chan error, len(r.f.nodes))
		for _, m := range r.f.nodes {
			go func() { errs <- m.p().terminate(20 * time.Second) }()
		}
		for range r.f.nodes {
			if err := <-errs; err != nil {
				return err
			}
		}
		return r.restartAll(ctx)
	}},
	{"rolling restart (SIGTERM one by one)", func(ctx context.Context, r *run) error {
		r.inject(ctx)
		for _, m := range r.f.nodes {
			if err := m.p().terminate(20 * time.Second); err != nil {
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
	{"sink full 4 s (max_bytes reached)", func(ctx context.Context, r *run) error {
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
	{"forged catalog commands (key_file set)", func(ctx context.Context, r *run) error {
		r.inject(ctx)
		return r.forge()
	}},
	{"malformed partitions (10 kinds)", func(ctx context.Context, r *run) error {
		r.inject(ctx)
		return r.malformedPartitions(ctx)
	}},
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

package pcs_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// fakeClock records the delays the pipeline asks for and returns at once.
type fakeClock struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.delays = append(c.delays, d)
	c.mu.Unlock()
	return ctx.Err()
}

// flaky fails its first n attempts after writing y = attempt, then
// succeeds writing y = attempt.
func flaky(n int, perm bool, attempts *int) pcs.System {
	return pcs.SystemFunc(pcs.Meta("flaky").Write(py), func(_ context.Context, ds *pcs.Dataset) error {
		*attempts++
		vals := make([]int64, ds.Len())
		for i := range vals {
			vals[i] = int64(*attempts)
		}
		arr := int64s(ds.Allocator(), vals...)
		defer arr.Release()
		if err := py.Set(ds, arr); err != nil {
			return err
		}
		if *attempts <= n {
			err := errors.New("transient")
			if perm {
				err = pcs.Permanent(err)
			}
			return err
		}
		return nil
	})
}

func TestRetry(t *testing.T) {
	policy := pcs.RetryPolicy{MaxRetries: 3, Base: 100 * time.Millisecond, Multiplier: 2, Cap: 300 * time.Millisecond}
	tests := []struct {
		name         string
		failures     int
		permanent    bool
		wantAttempts int
		wantErr      bool
		wantDelays   []time.Duration
	}{
		{"fails twice then succeeds", 2, false, 3, false, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{"permanent error stops at once", 5, true, 1, true, nil},
		{"exhaustion", 10, false, 4, true, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			ds := newPoints(t, mem, 4)
			defer ds.Release()
			clock := &fakeClock{}
			attempts := 0
			p := mustBuild(t, pcs.NewPipeline("p").Components(points).Retry(policy).Sleeper(clock.Sleep).Add(flaky(tt.failures, tt.permanent, &attempts)))
			stats, err := p.Run(context.Background(), ds)
			if attempts != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", attempts, tt.wantAttempts)
			}
			if !equalDurations(clock.delays, tt.wantDelays) {
				t.Errorf("delays %v, want %v", clock.delays, tt.wantDelays)
			}
			y, _ := ds.Column("point", "y")
			if tt.wantErr {
				var se *pcs.SystemError
				if !errors.As(err, &se) || se.Attempts != tt.wantAttempts || se.System != "flaky" || se.Err == nil {
					t.Fatalf("err = %#v, want SystemError with %d attempts", err, tt.wantAttempts)
				}
				if y.(*array.Int64).Value(0) != 0 {
					t.Errorf("failed attempts left y = %d", y.(*array.Int64).Value(0))
				}
				if len(stats.Systems) != 1 || stats.Systems[0].Attempts != tt.wantAttempts || stats.Systems[0].Err == nil {
					t.Errorf("system stats %+v", stats.Systems)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if stats.Retries != tt.failures {
				t.Errorf("retries = %d, want %d", stats.Retries, tt.failures)
			}
			if len(stats.Systems) != 1 || stats.Systems[0].Attempts != tt.wantAttempts || stats.Systems[0].Err != nil || stats.Systems[0].Name != "flaky" {
				t.Errorf("system stats %+v", stats.Systems)
			}
			// Only the successful attempt's writes are visible.
			for i := 0; i < ds.Len(); i++ {
				if got := y.(*array.Int64).Value(i); got != int64(tt.wantAttempts) {
					t.Errorf("y[%d] = %d, want %d (a failed attempt's write leaked)", i, got, tt.wantAttempts)
				}
			}
		})
	}
}

func TestRetryJitterStaysInBounds(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newPoints(t, mem, 1)
	defer ds.Release()
	clock := &fakeClock{}
	attempts := 0
	policy := pcs.RetryPolicy{MaxRetries: 6, Base: 10 * time.Millisecond, Multiplier: 3, Cap: time.Second, Jitter: 0.5}
	s := flaky(100, false, &attempts)
	// The system's own policy overrides the pipeline default (NoRetry).
	p := mustBuild(t, pcs.NewPipeline("p").Components(points).Retry(pcs.NoRetry()).Sleeper(clock.Sleep).
		Add(pcs.SystemFunc(s.Meta().WithRetry(policy), s.Run)))
	if _, err := p.Run(context.Background(), ds); err == nil {
		t.Fatal("want exhaustion")
	}
	if attempts != 7 || len(clock.delays) != 6 {
		t.Fatalf("attempts %d, delays %v", attempts, clock.delays)
	}
	interval := policy.Base
	for i, d := range clock.delays {
		lo, hi := time.Duration(float64(interval)*0.5), time.Duration(float64(interval)*1.5)
		if d < lo || d > hi {
			t.Errorf("delay %d = %v outside [%v, %v]", i, d, lo, hi)
		}
		interval = min(time.Duration(float64(interval)*policy.Multiplier), policy.Cap)
	}
}

func TestRetryStopsOnCancel(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newPoints(t, mem, 1)
	defer ds.Release()
	ctx, cancel := context.WithCancel(context.Background())
	attempts := 0
	sleeper := func(ctx context.Context, d time.Duration) error {
		cancel() // cancelled while waiting for the first retry
		return pcs.Sleep(ctx, time.Hour)
	}
	p := mustBuild(t, pcs.NewPipeline("p").Components(points).Sleeper(sleeper).Add(flaky(100, false, &attempts)))
	start := time.Now()
	_, err := p.Run(ctx, ds)
	if !errors.Is(err, context.Canceled) || attempts != 1 {
		t.Fatalf("err = %v after %d attempts", err, attempts)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("cancellation did not interrupt the backoff sleep")
	}
	if _, err := p.Run(ctx, ds); !errors.Is(err, context.Canceled) || attempts != 1 {
		t.Fatalf("run on a cancelled ctx: err = %v, attempts %d", err, attempts)
	}
}

func TestRetryPolicyValidate(t *testing.T) {
	bad := []pcs.RetryPolicy{
		{MaxRetries: -1},
		{MaxRetries: 1, Base: 0, Multiplier: 2, Cap: time.Second},
		{MaxRetries: 1, Base: time.Second, Multiplier: 0.5, Cap: time.Second},
		{MaxRetries: 1, Base: time.Second, Multiplier: 2, Cap: time.Millisecond},
		{MaxRetries: 1, Base: time.Second, Multiplier: 2, Cap: time.Second, Jitter: 2},
	}
	for _, p := range bad {
		if err := p.Validate(); !errors.Is(err, pcs.ErrBuild) {
			t.Errorf("%+v: err = %v", p, err)
		}
	}
	for _, p := range []pcs.RetryPolicy{pcs.DefaultRetryPolicy(), pcs.NoRetry()} {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

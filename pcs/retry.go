package pcs

import (
	"context"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// RetryPolicy is exponential backoff between attempts of a failing
// system: the n-th retry waits min(Base*Multiplier^(n-1), Cap), scaled by a
// random factor in [1-Jitter, 1+Jitter] (cenkalti/backoff's
// ExponentialBackOff; the cap applies before jitter). MaxRetries 0 means a
// failure is final. Errors marked Permanent are never retried.
type RetryPolicy struct {
	MaxRetries int           // retries after the first attempt
	Base       time.Duration // first delay
	Multiplier float64       // growth per retry, >= 1
	Cap        time.Duration // upper bound of the un-jittered delay
	Jitter     float64       // randomization factor in [0, 1]
}

// DefaultRetryPolicy is the pipeline default: 3 retries, 100 ms doubling to
// at most 5 s, ±20% jitter.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxRetries: 3, Base: 100 * time.Millisecond, Multiplier: 2, Cap: 5 * time.Second, Jitter: 0.2}
}

// NoRetry is a policy under which every failure is final.
func NoRetry() RetryPolicy { return RetryPolicy{} }

// Validate reports a policy that cannot be used.
func (p RetryPolicy) Validate() error {
	switch {
	case p.MaxRetries < 0:
		return fmt.Errorf("%w: retry: MaxRetries %d < 0", ErrBuild, p.MaxRetries)
	case p.MaxRetries > 0 && p.Base <= 0:
		return fmt.Errorf("%w: retry: Base %v must be > 0", ErrBuild, p.Base)
	case p.MaxRetries > 0 && p.Multiplier < 1:
		return fmt.Errorf("%w: retry: Multiplier %v must be >= 1", ErrBuild, p.Multiplier)
	case p.MaxRetries > 0 && p.Cap < p.Base:
		return fmt.Errorf("%w: retry: Cap %v < Base %v", ErrBuild, p.Cap, p.Base)
	case p.Jitter < 0 || p.Jitter > 1:
		return fmt.Errorf("%w: retry: Jitter %v outside [0, 1]", ErrBuild, p.Jitter)
	}
	return nil
}

// backoff returns a fresh delay sequence for one run of a system.
func (p RetryPolicy) backoff() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     p.Base,
		RandomizationFactor: p.Jitter,
		Multiplier:          p.Multiplier,
		MaxInterval:         p.Cap,
	}
	b.Reset()
	return b
}

// Sleeper waits d or until ctx is done, returning ctx.Err() then. The
// pipeline sleeps between retries through it; tests pass a fake clock.
type Sleeper func(ctx context.Context, d time.Duration) error

// Sleep is the real-time Sleeper.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

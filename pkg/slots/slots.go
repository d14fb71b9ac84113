// Package slots decides when another build may start: a fixed bound, an
// adaptive bound that also fills idle CPU, and a bound shared by every
// slipway process on the host. Each is a Slots; Chain combines them.
package slots

import (
	"context"
)

// Slots hands out permission to run one build.
type Slots interface {
	// Acquire blocks until a slot is free or ctx ends. wait, if not nil, is
	// called once if Acquire has to wait, so the caller can show it.
	Acquire(ctx context.Context, wait func()) (release func(), err error)
}

// Unlimited never waits.
type Unlimited struct{}

func (Unlimited) Acquire(context.Context, func()) (func(), error) { return func() {}, nil }

// Fixed allows at most cap(ch) holders.
type Fixed chan struct{}

// NewFixed returns a bound of n; n <= 0 means Unlimited.
func NewFixed(n int) Slots {
	if n <= 0 {
		return Unlimited{}
	}
	return Fixed(make(chan struct{}, n))
}

func (f Fixed) Acquire(ctx context.Context, wait func()) (func(), error) {
	select {
	case f <- struct{}{}:
		return func() { <-f }, nil
	default:
	}
	if wait != nil {
		wait()
	}
	select {
	case f <- struct{}{}:
		return func() { <-f }, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// Chain acquires every Slots in order and releases them in reverse.
type Chain []Slots

func (c Chain) Acquire(ctx context.Context, wait func()) (func(), error) {
	var rels []func()
	release := func() {
		for i := len(rels) - 1; i >= 0; i-- {
			rels[i]()
		}
	}
	waited := false
	once := func() {
		if !waited && wait != nil {
			waited = true
			wait()
		}
	}
	for _, s := range c {
		r, err := s.Acquire(ctx, once)
		if err != nil {
			release()
			return nil, err
		}
		rels = append(rels, r)
	}
	return release, nil
}

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
	release, _, err := c.AcquireObserved(ctx, wait)
	return release, err
}

// StepEvent is what a build holding a slot reports about one of its steps.
type StepEvent struct {
	ID string
	// Compute marks a step that runs the build's own commands (a RUN): the
	// part of a build that takes CPU and memory, as opposed to waiting on
	// the builder (session, context transfer, image export).
	Compute bool
	// Final marks the build's last phase (exporting the image): no compute
	// step follows, so a build without any has shown what it costs.
	Final bool
	// Cached is set when the step's result was reused instead of run.
	Cached bool
	// Started and Done say where the step is now.
	Started, Done bool
}

// Observed is a Slots whose holders report their build's steps, so that the
// bound can tell a build that computes from one that waits.
type Observed interface {
	Slots
	// AcquireObserved is Acquire, plus where the holder reports its steps
	// until it releases the slot (observe may be nil: nothing listens).
	AcquireObserved(ctx context.Context, wait func()) (release func(), observe func(StepEvent), err error)
}

// AcquireObserved acquires every Slots in order, observed where a member
// is Observed, and passes each step event to all of those.
func (c Chain) AcquireObserved(ctx context.Context, wait func()) (func(), func(StepEvent), error) {
	var rels []func()
	var obs []func(StepEvent)
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
		var r func()
		var o func(StepEvent)
		var err error
		if os, ok := s.(Observed); ok {
			r, o, err = os.AcquireObserved(ctx, once)
		} else {
			r, err = s.Acquire(ctx, once)
		}
		if err != nil {
			release()
			return nil, nil, err
		}
		rels = append(rels, r)
		if o != nil {
			obs = append(obs, o)
		}
	}
	if len(obs) == 0 {
		return release, nil, nil
	}
	return release, func(ev StepEvent) {
		for _, o := range obs {
			o(ev)
		}
	}, nil
}

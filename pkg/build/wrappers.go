package build

import (
	"context"

	"github.com/slipway-dev/slipway/pkg/slots"
)

// Func adapts a function to Interface.
type Func func(ctx context.Context, req Request) (Result, error)

// Build calls f.
func (f Func) Build(ctx context.Context, req Request) (Result, error) { return f(ctx, req) }

// Limiter holds a slot for the length of each build of Inner, so at most
// as many builds run as Slots allows.
type Limiter struct {
	Slots slots.Slots
	Inner Interface
	// Waiting, if set, is called once when a build has to wait for a slot.
	Waiting func(service string)
}

// Build waits for a slot, then builds. Slots that are Observed hear the
// build's steps (through req.OnStep, besides whoever set it already), so a
// bound can tell a build that waits on the builder from one that computes.
func (l *Limiter) Build(ctx context.Context, req Request) (Result, error) {
	var wait func()
	if l.Waiting != nil {
		wait = func() { l.Waiting(req.Service) }
	}
	var release func()
	var observe func(slots.StepEvent)
	var err error
	if o, ok := l.Slots.(slots.Observed); ok {
		release, observe, err = o.AcquireObserved(ctx, wait)
	} else {
		release, err = l.Slots.Acquire(ctx, wait)
	}
	if err != nil {
		return Result{}, err
	}
	defer release()
	if ctx.Err() != nil {
		return Result{}, context.Cause(ctx)
	}
	if observe != nil {
		next := req.OnStep
		req.OnStep = func(s Step) {
			observe(s.event())
			if next != nil {
				next(s)
			}
		}
	}
	return l.Inner.Build(ctx, req)
}

// Reuser gives an existing image instead of a build when Find has one with
// the same inputs. Wrapped around a Limiter, a reused image never waits
// for a slot: "reuse before taking a slot" is this composition.
type Reuser struct {
	// Find returns the image to reuse for req; ok false means build.
	Find  func(ctx context.Context, req Request) (res Result, ok bool, err error)
	Inner Interface
}

// Build reuses, or else builds with Inner.
func (r *Reuser) Build(ctx context.Context, req Request) (Result, error) {
	res, ok, err := r.Find(ctx, req)
	if err != nil || ok {
		res.Reused = ok
		return res, err
	}
	return r.Inner.Build(ctx, req)
}

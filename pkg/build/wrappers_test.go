package build

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/slots"
	"golang.org/x/sync/errgroup"
)

func TestLimiterBoundsBuilds(t *testing.T) {
	for _, jobs := range []int{1, 2, 3} {
		var cur, peak atomic.Int32
		l := &Limiter{Slots: slots.NewFixed(jobs), Inner: Func(func(context.Context, Request) (Result, error) {
			n := cur.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(10 * time.Millisecond)
			cur.Add(-1)
			return Result{}, nil
		})}
		var g errgroup.Group
		for i := 0; i < 8; i++ {
			g.Go(func() error { _, err := l.Build(context.Background(), Request{}); return err })
		}
		if err := g.Wait(); err != nil || int(peak.Load()) != jobs {
			t.Fatalf("jobs=%d: peak %d (%v)", jobs, peak.Load(), err)
		}
	}
}

func TestLimiterCancelWhileWaiting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	block := Func(func(ctx context.Context, _ Request) (Result, error) { <-ctx.Done(); return Result{}, ctx.Err() })
	waiting := make(chan struct{}, 1)
	l := &Limiter{Slots: slots.NewFixed(1), Inner: block, Waiting: func(string) { waiting <- struct{}{} }}
	go func() { <-waiting; cancel() }()
	var g errgroup.Group
	for i := 0; i < 2; i++ {
		g.Go(func() error { _, err := l.Build(ctx, Request{}); return err })
	}
	if err := g.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want cancelled", err)
	}
}

// A reused image takes no slot: with the only slot held, a reuse still
// returns at once.
func TestReuserTakesNoSlot(t *testing.T) {
	sl := slots.NewFixed(1)
	release, _ := sl.Acquire(context.Background(), nil)
	defer release()
	built := false
	r := &Reuser{
		Find: func(_ context.Context, req Request) (Result, bool, error) {
			return Result{ID: "sha256:old"}, req.Service == "same", nil
		},
		Inner: &Limiter{Slots: sl, Inner: Func(func(context.Context, Request) (Result, error) { built = true; return Result{}, nil })},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res, err := r.Build(ctx, Request{Service: "same"})
	if err != nil || !res.Reused || res.ID != "sha256:old" || built {
		t.Fatalf("reuse: %+v %v built=%v", res, err, built)
	}
	if _, err := r.Build(ctx, Request{Service: "changed"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a changed service did not wait for the slot: %v", err)
	}
}

// observedSlots is a one-holder Observed that keeps what it heard.
type observedSlots struct{ heard []slots.StepEvent }

func (o *observedSlots) Acquire(context.Context, func()) (func(), error) { return func() {}, nil }
func (o *observedSlots) AcquireObserved(context.Context, func()) (func(), func(slots.StepEvent), error) {
	return func() {}, func(ev slots.StepEvent) { o.heard = append(o.heard, ev) }, nil
}

func TestLimiterPassesStepsToSlots(t *testing.T) {
	o := &observedSlots{}
	var own []Step
	t0 := time.Now()
	inner := Func(func(_ context.Context, req Request) (Result, error) {
		req.OnStep(Step{ID: "a", Name: "[internal] load build definition from Dockerfile", Started: t0})
		req.OnStep(Step{ID: "b", Name: "[stage-1 2/3] RUN make", Started: t0})
		req.OnStep(Step{ID: "b", Name: "[stage-1 2/3] RUN make", Started: t0, Completed: t0})
		req.OnStep(Step{ID: "c", Name: "exporting to image", Started: t0})
		return Result{}, nil
	})
	l := &Limiter{Slots: slots.Chain{o, slots.Unlimited{}}, Inner: inner}
	if _, err := l.Build(context.Background(), Request{OnStep: func(s Step) { own = append(own, s) }}); err != nil {
		t.Fatal(err)
	}
	want := []slots.StepEvent{
		{ID: "a", Started: true},
		{ID: "b", Compute: true, Started: true},
		{ID: "b", Compute: true, Started: true, Done: true},
		{ID: "c", Final: true, Started: true},
	}
	if len(o.heard) != len(want) {
		t.Fatalf("slots heard %+v", o.heard)
	}
	for i := range want {
		if o.heard[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, o.heard[i], want[i])
		}
	}
	if len(own) != 4 {
		t.Errorf("the request's own OnStep heard %d steps, want 4", len(own))
	}
}

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

package slots

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func peak(t *testing.T, s Slots, workers int, work func()) int32 {
	t.Helper()
	var cur, top atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rel, err := s.Acquire(context.Background(), nil)
			if err != nil {
				t.Error(err)
				return
			}
			n := cur.Add(1)
			for {
				p := top.Load()
				if n <= p || top.CompareAndSwap(p, n) {
					break
				}
			}
			work()
			cur.Add(-1)
			rel()
		}()
	}
	wg.Wait()
	return top.Load()
}

func TestFixed(t *testing.T) {
	if p := peak(t, NewFixed(3), 10, func() { time.Sleep(10 * time.Millisecond) }); p != 3 {
		t.Fatalf("peak %d", p)
	}
}

func TestHostSlotsAcrossHolders(t *testing.T) {
	dir := t.TempDir()
	// Two separate Host values stand for two processes sharing the folder.
	a, b := Host{Dir: dir, N: 1, Poll: 5 * time.Millisecond}, Host{Dir: dir, N: 1, Poll: 5 * time.Millisecond}
	if p := peak(t, Chain{Unlimited{}, a}, 3, func() { time.Sleep(20 * time.Millisecond) }); p != 1 {
		t.Fatalf("peak %d", p)
	}
	rel, err := a.Acquire(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	waited := false
	if _, err := b.Acquire(ctx, func() { waited = true }); err == nil || !waited {
		t.Fatalf("second holder got the only slot (err %v, waited %v)", err, waited)
	}
	rel()
	if rel2, err := b.Acquire(context.Background(), nil); err != nil {
		t.Fatal(err)
	} else {
		rel2()
	}
}

func TestAdaptiveFillsIdleCPU(t *testing.T) {
	// Sleeping work leaves the CPU idle, so more than Base run at once.
	// An idle machine, whatever this one is doing: the counters advance
	// with every sample and the idle share stays at 90%.
	var mu sync.Mutex
	var n uint64
	idle := func() (cpuSample, bool) {
		mu.Lock()
		defer mu.Unlock()
		n++
		return cpuSample{idle: 90 * n, total: 100 * n}, true
	}
	a := &Adaptive{Base: 1, Max: 4, Poll: 20 * time.Millisecond, sample: idle}
	if p := peak(t, a, 4, func() { time.Sleep(400 * time.Millisecond) }); p < 2 || p > 4 {
		t.Fatalf("peak %d, want more than Base and at most Max", p)
	}
}

func TestAdaptiveHoldsBaseWhenBusy(t *testing.T) {
	a := &Adaptive{Base: 1, Max: 4, Poll: 20 * time.Millisecond, MinFreeMem: 1 << 62}
	if p := peak(t, a, 3, func() { time.Sleep(100 * time.Millisecond) }); p != 1 {
		t.Fatalf("peak %d with no free memory, want Base", p)
	}
}

package slots

import (
	"context"
	"sync"
	"testing"
	"time"
)

// busyCPU is a machine whose CPU never idles (other processes keep it busy):
// the idle rule never admits an extra build, so whatever is admitted beyond
// Base is the step rule's doing.
func busyCPU() func() (cpuSample, bool) {
	var mu sync.Mutex
	var n uint64
	return func() (cpuSample, bool) {
		mu.Lock()
		defer mu.Unlock()
		n++
		return cpuSample{idle: 0, total: 100 * n}, true
	}
}

func plentyMem() int64 { return 1 << 40 }

// tryNow reports whether a slot is free without waiting (a slot taken is
// released at the end of the test).
func tryNow(t *testing.T, s Observed) (func(), func(StepEvent), bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	rel, obs, err := s.AcquireObserved(ctx, nil)
	if err != nil {
		return nil, nil, false
	}
	t.Cleanup(rel)
	return rel, obs, true
}

func TestStepRuleAdmitsWhileBuildsWait(t *testing.T) {
	a := &Adaptive{Base: 1, Max: 1, StepMax: 10, Starting: 2, Poll: time.Hour, sample: busyCPU(), mem: plentyMem}
	_, obs1, ok := tryNow(t, a)
	if !ok {
		t.Fatal("no Base slot")
	}
	// Until a build reports a step, nothing says the builder reports any
	// (the CLI builder does not): the bound is Base, the CPU is busy.
	if _, _, ok := tryNow(t, a); ok {
		t.Fatal("an extra build before any step was reported, on a busy CPU")
	}
	// The first build waits on the builder (loading its definition): one
	// more may start, though the CPU is busy.
	obs1(StepEvent{ID: "load", Started: true})
	_, obs2, ok := tryNow(t, a)
	if !ok {
		t.Fatal("no extra build while the only build waits")
	}
	// Two builds are starting (neither reached a RUN): Starting is full.
	if _, _, ok := tryNow(t, a); ok {
		t.Fatal("more starting builds than Starting")
	}
	// The first reaches its RUN: one compute step runs, Base is 1.
	obs1(StepEvent{ID: "run", Compute: true, Started: true})
	if _, _, ok := tryNow(t, a); ok {
		t.Fatal("an extra build while Base compute steps run")
	}
	// A cached RUN of the second counts as reached, not as running.
	obs2(StepEvent{ID: "run2", Compute: true, Started: true, Done: true, Cached: true})
	if _, _, ok := tryNow(t, a); ok {
		t.Fatal("an extra build while Base compute steps run")
	}
	// The RUN ends (the build now exports, waiting on the builder): a
	// waiting Acquire is woken at once (Poll is an hour).
	got := make(chan error, 1)
	go func() {
		rel, _, err := a.AcquireObserved(context.Background(), nil)
		if err == nil {
			t.Cleanup(rel)
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	obs1(StepEvent{ID: "run", Compute: true, Started: true, Done: true})
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the end of a RUN step did not wake a waiting build")
	}
}

func TestStepRuleBounds(t *testing.T) {
	t.Run("StepMax", func(t *testing.T) {
		a := &Adaptive{Base: 1, Max: 1, StepMax: 3, Starting: 10, Poll: time.Hour, sample: busyCPU(), mem: plentyMem}
		_, obs, _ := tryNow(t, a)
		obs(StepEvent{ID: "load", Started: true})
		for i := 2; i <= 3; i++ {
			if _, _, ok := tryNow(t, a); !ok {
				t.Fatalf("build %d refused below StepMax", i)
			}
		}
		if _, _, ok := tryNow(t, a); ok {
			t.Fatal("more builds than StepMax")
		}
	})
	t.Run("memory", func(t *testing.T) {
		// Room for the base build's and one more starting build's memory
		// above MinFreeMem, not for two.
		const gib = 1 << 30
		a := &Adaptive{Base: 1, Max: 1, StepMax: 10, Starting: 10, Poll: time.Hour, sample: busyCPU(),
			MinFreeMem: 2 * gib, PerBuildMem: gib, mem: func() int64 { return 4 * gib }}
		_, obs, _ := tryNow(t, a)
		obs(StepEvent{ID: "load", Started: true})
		if _, _, ok := tryNow(t, a); !ok {
			t.Fatal("refused with memory for one more")
		}
		if _, _, ok := tryNow(t, a); ok {
			t.Fatal("admitted a build the free memory cannot hold")
		}
	})
	t.Run("unobserved holders count as starting", func(t *testing.T) {
		a := &Adaptive{Base: 2, Max: 2, StepMax: 10, Starting: 2, Poll: time.Hour, sample: busyCPU(), mem: plentyMem}
		rel, err := a.Acquire(context.Background(), nil) // the CLI builder: never reports
		if err != nil {
			t.Fatal(err)
		}
		defer rel()
		_, obs, _ := tryNow(t, a)
		obs(StepEvent{ID: "load", Started: true})
		if _, _, ok := tryNow(t, a); ok {
			t.Fatal("admitted beyond Starting: the silent holder was not counted")
		}
	})
	t.Run("late events after release", func(t *testing.T) {
		a := &Adaptive{Base: 1, Max: 1, StepMax: 10, Starting: 1, Poll: time.Hour, sample: busyCPU(), mem: plentyMem}
		rel, obs, _ := tryNow(t, a)
		obs(StepEvent{ID: "run", Compute: true, Started: true})
		rel()
		rel() // twice is harmless
		obs(StepEvent{ID: "run", Compute: true, Started: true, Done: true})
		if a.inUse != 0 || len(a.holders) != 0 {
			t.Fatalf("inUse %d, holders %d after release", a.inUse, len(a.holders))
		}
	})
}

// TestStepRuleCompileFleet: builds that each reach a long RUN run about
// Base at once, however many wait; tiny builds that wait on the builder
// overlap far beyond Base. The CPU is busy throughout.
func TestStepRuleCompileFleet(t *testing.T) {
	run := func(compute bool) int32 {
		a := &Adaptive{Base: 2, Max: 2, StepMax: 16, Starting: 2, Poll: 5 * time.Millisecond, sample: busyCPU(), mem: plentyMem}
		var mu sync.Mutex
		var cur, top int32
		var wg sync.WaitGroup
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rel, obs, err := a.AcquireObserved(context.Background(), nil)
				if err != nil {
					t.Error(err)
					return
				}
				defer rel()
				mu.Lock()
				cur++
				top = max(top, cur)
				mu.Unlock()
				obs(StepEvent{ID: "load", Started: true})
				time.Sleep(5 * time.Millisecond)
				obs(StepEvent{ID: "run", Compute: true, Started: true})
				if compute {
					time.Sleep(60 * time.Millisecond) // a compile
				}
				obs(StepEvent{ID: "run", Compute: true, Started: true, Done: true})
				if !compute {
					// A tiny RUN, then the export: waiting on the builder.
					obs(StepEvent{ID: "export", Final: true, Started: true})
					time.Sleep(60 * time.Millisecond)
				}
				mu.Lock()
				cur--
				mu.Unlock()
			}()
		}
		wg.Wait()
		return top
	}
	// Compiles: Base running plus at most Starting that had not yet shown
	// they compile when they were let in.
	if p := run(true); p > 4 {
		t.Errorf("compile-bound: peak %d builds, want at most Base+Starting = 4", p)
	}
	if p := run(false); p < 8 {
		t.Errorf("waiting builds: peak %d, want them to overlap far beyond Base = 2", p)
	}
}

func TestStepRuleExportWithoutRun(t *testing.T) {
	// A build with no RUN (COPY only) has shown its cost once it exports.
	a := &Adaptive{Base: 1, Max: 1, StepMax: 10, Starting: 1, Poll: time.Hour, sample: busyCPU(), mem: plentyMem}
	_, obs, _ := tryNow(t, a)
	obs(StepEvent{ID: "copy", Started: true})
	if _, _, ok := tryNow(t, a); ok {
		t.Fatal("admitted beyond Starting")
	}
	obs(StepEvent{ID: "export", Final: true, Started: true})
	if _, _, ok := tryNow(t, a); !ok {
		t.Fatal("a build that exports still counts as starting")
	}
}

func TestStepRuleComputeBound(t *testing.T) {
	const gib = 1 << 30
	mem := int64(100 * gib)
	a := &Adaptive{Base: 1, Max: 1, StepMax: 10, Starting: 1, Compute: 3, Poll: time.Hour, sample: busyCPU(),
		MinFreeMem: gib, PerBuildMem: gib, mem: func() int64 { return mem }}
	// Each build reaches its RUN at once: Compute of them run, not Base.
	n := 0
	for {
		_, obs, ok := tryNow(t, a)
		if !ok {
			break
		}
		n++
		obs(StepEvent{ID: "run", Compute: true, Started: true})
	}
	if n != 3 {
		t.Fatalf("%d builds with running RUN steps, want Compute = 3", n)
	}
	// Memory for fewer: free memory that holds only this starting build
	// and one more running step leaves the bound at max(Base, 1).
	b := &Adaptive{Base: 1, Max: 1, StepMax: 10, Starting: 1, Compute: 3, Poll: time.Hour, sample: busyCPU(),
		MinFreeMem: gib, PerBuildMem: gib, mem: func() int64 { return 3 * gib }}
	_, obs, _ := tryNow(t, b)
	obs(StepEvent{ID: "run", Compute: true, Started: true})
	if _, _, ok := tryNow(t, b); ok {
		t.Fatal("a build admitted while one runs and memory holds no more")
	}
}

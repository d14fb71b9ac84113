package watch

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeWorld is the loop's surroundings: files whose digests the test sets,
// and builds that the test can hold and release.
type fakeWorld struct {
	mu       sync.Mutex
	digests  map[string]string
	started  chan *Cycle   // each cycle as it starts
	release  chan struct{} // a held build returns when it is closed or sent on
	hold     bool          // builds wait for release
	ignoreCx bool          // builds finish successfully even when cancelled
	kept     []int
	dropped  []int
	reports  chan Cycle
}

func newFakeWorld() *fakeWorld {
	return &fakeWorld{digests: map[string]string{"api": "a1", "web": "w1"}, started: make(chan *Cycle, 16),
		release: make(chan struct{}), reports: make(chan Cycle, 16)}
}

func (f *fakeWorld) set(svc, d string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.digests[svc] = d
}

func (f *fakeWorld) loop(events chan change) *loop {
	return &loop{debounce: 80 * time.Millisecond, maxWait: time.Second, events: events,
		snap: func(context.Context) (snapshot, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			d := map[string]string{}
			for k, v := range f.digests {
				d[k] = v
			}
			return snapshot{services: []string{"api", "web"}, digests: d}, nil
		},
		cycle: func(ctx context.Context, c *Cycle) error {
			c.Run = "run" + string(rune('0'+c.Seq))
			c.Rebuilt = c.Services
			f.started <- c
			f.mu.Lock()
			hold, ignore := f.hold, f.ignoreCx
			f.mu.Unlock()
			if !hold {
				return nil
			}
			if ignore {
				<-f.release // the build ignores the cancel and "succeeds"
				return nil
			}
			select {
			case <-f.release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		keep: func(_ context.Context, c *Cycle) {
			f.mu.Lock()
			f.kept = append(f.kept, c.Seq)
			f.mu.Unlock()
		},
		discard: func(c *Cycle) {
			f.mu.Lock()
			f.dropped = append(f.dropped, c.Seq)
			f.mu.Unlock()
		},
		report: func(c *Cycle) { f.reports <- *c },
		warn:   func(error) {},
	}
}

func (f *fakeWorld) next(t *testing.T) Cycle {
	t.Helper()
	select {
	case c := <-f.reports:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no cycle finished")
	}
	return Cycle{}
}

// keptAfter waits until n cycles are kept: keep runs after report, so the
// report a test reads can come before the cycle is kept.
func (f *fakeWorld) keptAfter(t *testing.T, n int) []int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		k := append([]int(nil), f.kept...)
		f.mu.Unlock()
		if len(k) >= n || time.Now().After(deadline) {
			return k
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fakeWorld) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case c := <-f.reports:
		t.Fatalf("unexpected cycle #%d (changed %v)", c.Seq, c.Changed)
	case <-time.After(d):
	}
}

func start(t *testing.T, l *loop) (cancel func(), done chan error) {
	ctx, c := context.WithCancel(context.Background())
	done = make(chan error, 1)
	go func() { done <- l.run(ctx) }()
	t.Cleanup(c)
	return c, done
}

func TestDebounceMakesOneCycleOfABurst(t *testing.T) {
	f := newFakeWorld()
	ev := make(chan change)
	_, _ = start(t, f.loop(ev))
	if c := f.next(t); c.Seq != 1 || len(c.Changed) != 0 || len(c.Services) != 2 {
		t.Fatalf("first cycle: %+v", c)
	}
	// Three saves, each well inside the quiet time of the one before.
	f.set("api", "a2")
	ev <- change{path: "api/main.go", at: time.Now()}
	time.Sleep(30 * time.Millisecond)
	ev <- change{path: "api/util.go", at: time.Now()}
	time.Sleep(30 * time.Millisecond)
	ev <- change{path: "api/main.go", at: time.Now()}
	c := f.next(t)
	if c.Seq != 2 || len(c.Changed) != 2 || len(c.Services) != 1 || c.Services[0] != "api" {
		t.Fatalf("burst: %+v", c)
	}
	f.none(t, 300*time.Millisecond)
}

func TestEventsThatChangeNoDigestStartNoCycle(t *testing.T) {
	f := newFakeWorld()
	ev := make(chan change)
	start(t, f.loop(ev))
	f.next(t)
	ev <- change{path: "README.md", at: time.Now()} // digests unchanged
	f.none(t, 300*time.Millisecond)
	if len(f.started) != 1 {
		t.Fatalf("%d builds started, want only the first", len(f.started))
	}
}

func TestMaxWaitBoundsAnEndlessBurst(t *testing.T) {
	f := newFakeWorld()
	ev := make(chan change)
	l := f.loop(ev)
	l.maxWait = 200 * time.Millisecond
	start(t, l)
	f.next(t)
	f.set("web", "w2")
	stop := time.After(600 * time.Millisecond)
	first := time.Now()
	var got Cycle
	var seen bool
loop:
	for {
		select {
		case ev <- change{path: "web/x", at: time.Now()}:
			time.Sleep(20 * time.Millisecond)
		case got = <-f.reports:
			seen = true
			break loop
		case <-stop:
			break loop
		}
	}
	if !seen || got.Seq != 2 {
		t.Fatalf("no cycle while events kept coming (debounce never quiet): %+v", got)
	}
	if d := time.Since(first); d > 500*time.Millisecond {
		t.Fatalf("cycle came after %s, want about maxWait", d)
	}
}

// The stale-cycle rule: an edit that changes a digest during a build
// cancels it; its result is discarded, the next cycle builds the newer
// state and carries the older edit's files, and only it is kept.
func TestEditDuringABuildSupersedesIt(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		name := map[bool]string{false: "cancelled", true: "finishes-anyway"}[ignore]
		t.Run(name, func(t *testing.T) {
			f := newFakeWorld()
			ev := make(chan change)
			start(t, f.loop(ev))
			<-f.started
			f.next(t)
			f.mu.Lock()
			f.hold, f.ignoreCx = true, ignore
			f.mu.Unlock()

			f.set("api", "a2")
			ev <- change{path: "api/one.go", at: time.Now()}
			old := <-f.started // cycle 2 builds a2
			f.set("api", "a3")
			ev <- change{path: "api/two.go", at: time.Now()}
			if ignore {
				// The stale build finishes as if nothing happened.
				time.Sleep(200 * time.Millisecond)
				f.release <- struct{}{}
			}
			c2 := f.next(t)
			if c2.Seq != old.Seq || !c2.Superseded {
				t.Fatalf("stale cycle reported as %+v", c2)
			}
			c3started := <-f.started
			if c3started.digests["api"] != "a3" {
				t.Fatalf("next cycle builds %q, want a3", c3started.digests["api"])
			}
			f.release <- struct{}{}
			c3 := f.next(t)
			if c3.Superseded || c3.Err != nil || len(c3.Changed) != 2 {
				t.Fatalf("newer cycle: %+v", c3)
			}
			kept := f.keptAfter(t, 2)
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(kept) != 2 || kept[1] != c3.Seq {
				t.Fatalf("kept %v, want the first and #%d", kept, c3.Seq)
			}
			if len(f.dropped) != 1 || f.dropped[0] != c2.Seq {
				t.Fatalf("discarded %v, want #%d", f.dropped, c2.Seq)
			}
		})
	}
}

// An edit that changes no digest during a build leaves it alone.
func TestIrrelevantEditDuringABuildKeepsIt(t *testing.T) {
	f := newFakeWorld()
	ev := make(chan change)
	start(t, f.loop(ev))
	<-f.started
	f.next(t)
	f.mu.Lock()
	f.hold = true
	f.mu.Unlock()
	f.set("web", "w2")
	ev <- change{path: "web/a", at: time.Now()}
	<-f.started
	ev <- change{path: "web/notes.txt", at: time.Now()} // digests as being built
	time.Sleep(200 * time.Millisecond)
	f.release <- struct{}{}
	if c := f.next(t); c.Superseded || c.Seq != 2 {
		t.Fatalf("%+v", c)
	}
	f.none(t, 300*time.Millisecond)
}

func TestFailedCycleIsDiscardedAndRetried(t *testing.T) {
	f := newFakeWorld()
	ev := make(chan change)
	l := f.loop(ev)
	inner := l.cycle
	fail := true
	l.cycle = func(ctx context.Context, c *Cycle) error {
		_ = inner(ctx, c)
		if c.Seq == 2 && fail {
			return errors.New("build failed")
		}
		return nil
	}
	start(t, l)
	f.next(t)
	f.set("api", "a2")
	ev <- change{path: "api/x", at: time.Now()}
	if c := f.next(t); c.Err == nil {
		t.Fatalf("cycle 2: %+v", c)
	}
	// A fix of another service: api is still not built, so it builds too.
	f.set("web", "w2")
	ev <- change{path: "web/y", at: time.Now()}
	c := f.next(t)
	if c.Err != nil || len(c.Services) != 2 {
		t.Fatalf("cycle 3 builds %v, want api (still unbuilt) and web", c.Services)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.dropped) != 1 || f.dropped[0] != 2 {
		t.Fatalf("discarded %v", f.dropped)
	}
}

func TestCancelEndsTheLoopAndUndoesTheCycle(t *testing.T) {
	f := newFakeWorld()
	f.hold = true
	ev := make(chan change)
	cancel, done := start(t, f.loop(ev))
	<-f.started
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("loop returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("loop did not end")
	}
	if len(f.dropped) != 1 || len(f.kept) != 0 {
		t.Fatalf("kept %v dropped %v", f.kept, f.dropped)
	}
}

// A file made and removed within one burst (sed -i's temporary file) is
// not reported as changed; a removed file that existed is.
func TestTemporaryFilesAreNotReported(t *testing.T) {
	f := newFakeWorld()
	ev := make(chan change)
	l := f.loop(ev)
	l.exists = func(p string) bool { return p == "api/main.go" }
	start(t, l)
	f.next(t)
	f.set("api", "a2")
	now := time.Now()
	ev <- change{path: "api/sedX1", at: now, created: true}
	ev <- change{path: "api/main.go", at: now}
	ev <- change{path: "api/old.go", at: now}
	c := f.next(t)
	if len(c.Changed) != 2 || c.Changed[0] != "api/main.go" || c.Changed[1] != "api/old.go" {
		t.Fatalf("changed %v, want api/main.go and api/old.go", c.Changed)
	}
}

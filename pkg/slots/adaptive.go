package slots

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Adaptive lets Base builds run at once, and more while they would not
// compete for the CPU:
//
//   - the step rule, when the builds report their steps (the direct BuildKit
//     builder, through AcquireObserved): another build starts while fewer
//     than Compute of our own compute steps (RUN) are running — fewer when
//     memory is short — and fewer than Starting builds have yet to reach
//     one. Tiny builds that mostly wait on BuildKit (session, context
//     transfer, export) then overlap up to StepMax even when other
//     processes keep the CPU busy, while a fleet of compile-bound builds
//     settles at about Compute running compiles.
//   - the idle rule, for builds that report nothing (the CLI builder): up to
//     Max while the CPU sits idle.
//
// Either way no extra build starts while memory is short.
type Adaptive struct {
	Base, Max int
	// StepMax bounds builds under the step rule; 0 means Max.
	StepMax int
	// Compute bounds our compute steps running at once under the step rule;
	// 0 means Base. Fewer run while free memory would not hold one more
	// PerBuildMem each above MinFreeMem. Above Base the CPU is shared, not
	// wasted: a compile-bound fleet takes as long in total, and tiny RUN
	// steps on a machine that other work keeps busy mostly wait for it.
	Compute int
	// Starting bounds the builds under the step rule that have not reached a
	// compute step yet: they have not shown what they cost, and if they are
	// compiles they will all compile at once. 0 means Max.
	Starting int
	// MinFreeMem is the MemAvailable, in bytes, below which no extra build starts.
	MinFreeMem int64
	// PerBuildMem is what a starting build may still take, in bytes: the
	// step rule keeps MinFreeMem free after every starting build took it.
	PerBuildMem int64
	// Poll is how often a waiting Acquire looks again (a release or a
	// step's end wakes it at once).
	Poll time.Duration

	// sample reads the CPU counters; nil means /proc/stat. Tests give a
	// fake, so that what they check does not hang on how busy the machine is.
	sample func() (cpuSample, bool)
	// mem reads MemAvailable; nil means /proc/meminfo.
	mem func() int64

	mu       sync.Mutex
	inUse    int
	lastIdle cpuSample
	started  time.Time // the last CPU sample
	budget   int       // extra builds the last sample still allows
	// holders are the observed builds running now; stepsSeen is set once
	// any build reported a step, which turns the step rule on.
	holders   map[*holder]struct{}
	stepsSeen bool
	changed   chan struct{} // closed and replaced when a waiter should look again
}

// holder is one observed build's state.
type holder struct {
	reached bool            // a compute step started (or was cached), or the export
	running map[string]bool // compute steps running now, by ID
}

type cpuSample struct{ idle, total uint64 }

// Acquire waits for a slot for a build that reports no steps.
func (a *Adaptive) Acquire(ctx context.Context, wait func()) (func(), error) {
	release, _, err := a.acquire(ctx, wait, false)
	return release, err
}

// AcquireObserved waits for a slot and returns where the build reports its steps.
func (a *Adaptive) AcquireObserved(ctx context.Context, wait func()) (func(), func(StepEvent), error) {
	return a.acquire(ctx, wait, true)
}

func (a *Adaptive) acquire(ctx context.Context, wait func(), observed bool) (func(), func(StepEvent), error) {
	h := &holder{running: map[string]bool{}}
	waited := false
	for {
		a.mu.Lock()
		ok := a.tryAcquire()
		if ok {
			if a.holders == nil {
				a.holders = map[*holder]struct{}{}
			}
			a.holders[h] = struct{}{}
		}
		ch := a.changedLocked()
		a.mu.Unlock()
		if ok {
			break
		}
		if !waited && wait != nil {
			waited = true
			wait()
		}
		select {
		case <-ctx.Done():
			return nil, nil, context.Cause(ctx)
		case <-ch:
		case <-time.After(a.poll()):
		}
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			a.mu.Lock()
			a.inUse--
			delete(a.holders, h)
			a.signalLocked()
			a.mu.Unlock()
		})
	}
	if !observed {
		return release, nil, nil
	}
	return release, func(ev StepEvent) { a.observe(h, ev) }, nil
}

// observe takes one step event of h's build.
func (a *Adaptive) observe(h *holder, ev StepEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, live := a.holders[h]; !live {
		return // a late event after release
	}
	wake := !a.stepsSeen
	a.stepsSeen = true
	if ev.Final && ev.Started && !h.reached {
		h.reached, wake = true, true
	}
	if ev.Compute {
		if (ev.Started || ev.Cached) && !h.reached {
			h.reached, wake = true, true
		}
		switch {
		case ev.Started && !ev.Done && !ev.Cached:
			h.running[ev.ID] = true
		case h.running[ev.ID]:
			delete(h.running, ev.ID)
			wake = true
		}
	}
	if wake {
		a.signalLocked()
	}
}

func (a *Adaptive) changedLocked() chan struct{} {
	if a.changed == nil {
		a.changed = make(chan struct{})
	}
	return a.changed
}

func (a *Adaptive) signalLocked() {
	if a.changed != nil {
		close(a.changed)
		a.changed = nil
	}
}

func (a *Adaptive) poll() time.Duration {
	if a.Poll > 0 {
		return a.Poll
	}
	return 200 * time.Millisecond
}

// tryAcquire takes a slot if a rule allows one; a.mu is held.
func (a *Adaptive) tryAcquire() bool {
	if a.lastIdle.total == 0 {
		// Prime the CPU sample with the first request, so the first
		// decision about an extra build can be made one poll later.
		a.lastIdle, _ = a.readCPU()
		a.started = time.Now()
	}
	if a.inUse < a.Base || a.stepRule() || a.idleRule() {
		a.inUse++
		return true
	}
	return false
}

// stepRule: our builds report steps, fewer than Base compute steps run, and
// few enough builds are still starting that, should they all turn out to be
// compiles, they neither swamp the CPU nor run out of memory.
func (a *Adaptive) stepRule() bool {
	if !a.stepsSeen || a.inUse >= a.stepMax() {
		return false
	}
	computing, starting := 0, 0
	for h := range a.holders {
		computing += len(h.running)
		if !h.reached {
			starting++
		}
	}
	// A build that reports nothing (the CLI builder) counts as starting
	// throughout: nothing says what it costs.
	starting += a.inUse - len(a.holders)
	if starting >= a.starting() {
		return false
	}
	bound := max(a.Compute, a.Base)
	// Memory that cannot be read (no /proc/meminfo) leaves Starting and
	// Compute as the bounds, as on a machine whose builds run in a VM.
	if a.MinFreeMem > 0 {
		if avail := a.memAvailable(); avail >= 0 {
			// Every starting build, this one included, may still take
			// PerBuildMem; each running compute step past Base may too.
			spare := avail - int64(starting+1)*a.PerBuildMem - a.MinFreeMem
			if spare < 0 {
				return false
			}
			if a.PerBuildMem > 0 {
				bound = min(bound, max(a.Base, int(spare/a.PerBuildMem)))
			}
		}
	}
	return computing < bound
}

// idleRule: one CPU sample per poll decides how many more may start.
func (a *Adaptive) idleRule() bool {
	if a.inUse >= a.Max {
		return false
	}
	if a.budget > 0 && time.Since(a.started) > 2*a.poll() {
		a.budget = 0 // a stale sample says nothing about now
	}
	if a.budget == 0 {
		// About three per idle core, so waiting builds ramp up fast, while
		// the next sample sees what the last ones cost before admitting more.
		if time.Since(a.started) < a.poll() {
			return false
		}
		idle, ok := a.idleFraction()
		a.started = time.Now()
		if !ok || idle < 0.5 {
			return false
		}
		a.budget = max(1, int(idle*float64(runtime.NumCPU())*3))
	}
	if a.MinFreeMem > 0 && a.memAvailable() < a.MinFreeMem {
		return false
	}
	a.budget--
	return true
}

func (a *Adaptive) stepMax() int {
	if a.StepMax > 0 {
		return a.StepMax
	}
	return a.Max
}

func (a *Adaptive) starting() int {
	if a.Starting > 0 {
		return a.Starting
	}
	return a.Max
}

func (a *Adaptive) memAvailable() int64 {
	if a.mem != nil {
		return a.mem()
	}
	return memAvailable()
}

// idleFraction is the CPU idle share since the previous call.
func (a *Adaptive) idleFraction() (float64, bool) {
	cur, ok := a.readCPU()
	if !ok {
		return 0, false
	}
	prev := a.lastIdle
	a.lastIdle = cur
	if prev.total == 0 || cur.total <= prev.total {
		return 0, false
	}
	return float64(cur.idle-prev.idle) / float64(cur.total-prev.total), true
}

func (a *Adaptive) readCPU() (cpuSample, bool) {
	if a.sample != nil {
		return a.sample()
	}
	return readCPU()
}

func readCPU() (cpuSample, bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return cpuSample{}, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return cpuSample{}, false
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return cpuSample{}, false
	}
	var s cpuSample
	for i, v := range fields[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		s.total += n
		if i == 3 || i == 4 { // idle, iowait
			s.idle += n
		}
	}
	return s, true
}

// memAvailable is MemAvailable from /proc/meminfo in bytes, or -1.
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "MemAvailable:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return -1
}

// MemAvailable is exported for the default --jobs computation.
func MemAvailable() int64 { return memAvailable() }

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

// Adaptive lets Base builds run at once, and more — up to Max — while the
// CPU sits idle and memory is free: builds that mostly wait (downloads, a
// slow network) then overlap, while compile-bound builds stay at Base and
// do not thrash.
type Adaptive struct {
	Base, Max int
	// MinFreeMem is the MemAvailable, in bytes, below which no extra build starts.
	MinFreeMem int64
	// Poll is how often a waiting Acquire looks again.
	Poll time.Duration

	// sample reads the CPU counters; nil means /proc/stat. Tests give a
	// fake, so that what they check does not hang on how busy the machine is.
	sample func() (cpuSample, bool)

	mu       sync.Mutex
	inUse    int
	lastIdle cpuSample
	started  time.Time // the last CPU sample
	budget   int       // extra builds the last sample still allows
}

type cpuSample struct{ idle, total uint64 }

func (a *Adaptive) Acquire(ctx context.Context, wait func()) (func(), error) {
	release := func() {
		a.mu.Lock()
		a.inUse--
		a.mu.Unlock()
	}
	waited := false
	for {
		if a.tryAcquire() {
			return release, nil
		}
		if !waited && wait != nil {
			waited = true
			wait()
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(a.poll()):
		}
	}
}

func (a *Adaptive) poll() time.Duration {
	if a.Poll > 0 {
		return a.Poll
	}
	return 200 * time.Millisecond
}

func (a *Adaptive) tryAcquire() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lastIdle.total == 0 {
		// Prime the CPU sample with the first request, so the first
		// decision about an extra build can be made one poll later.
		a.lastIdle, _ = a.readCPU()
		a.started = time.Now()
	}
	if a.inUse < a.Base {
		a.inUse++
		return true
	}
	if a.inUse >= a.Max {
		return false
	}
	if a.budget > 0 && time.Since(a.started) > 2*a.poll() {
		a.budget = 0 // a stale sample says nothing about now
	}
	if a.budget == 0 {
		// One CPU sample per poll decides how many more may start: about
		// three per idle core, so waiting builds ramp up fast, while the next
		// sample sees what the last ones cost before admitting more.
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
	if a.MinFreeMem > 0 && memAvailable() < a.MinFreeMem {
		return false
	}
	a.budget--
	a.inUse++
	return true
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

package pipeline

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/pkg/kind"
	"github.com/slipway-dev/slipway/pkg/progress"
	"github.com/slipway-dev/slipway/pkg/run"
)

// timing collects when each phase of one service's part in the run began
// and ended, for the record's run.Timing. Its marks come from several
// goroutines (the schedule, the slot limiter, the load), hence the lock.
type timing struct {
	mu                    sync.Mutex
	depWait, inputs, push *run.Span
	deliveryWait          *run.Span
	slotWait              time.Time // when the build began to wait for a slot
	deps                  []string  // the services it is built FROM
	steps                 stepTracker
	loads                 map[string]*run.NodeLoad
}

// ready marks the service's dependencies done: it waited for them since
// the schedule began, if it has any.
func (t *timing) ready(scheduled time.Time) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.deps) > 0 {
		t.depWait = &run.Span{Start: scheduled, End: now}
	}
	t.inputs = &run.Span{Start: now}
}

// looked marks the end of the input digest and the look for an image to reuse.
func (t *timing) looked() {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inputs != nil {
		t.inputs.End = now
	}
}

// waiting marks the start of a wait for a build slot; the build's start ends it.
func (t *timing) waiting() {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.slotWait = now
}

// delivering marks the end of the wait, since queued, for a delivery slot.
func (t *timing) delivering(queued time.Time) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.deliveryWait = &run.Span{Start: queued, End: now}
}

// delivery notes push progress from a publisher's reports.
func (t *timing) delivery(st progress.State) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	switch st {
	case progress.Pushing:
		t.push = &run.Span{Start: now}
	case progress.Pushed:
		if t.push != nil {
			t.push.End = now
		}
	}
}

// watchLoads returns ctx under which a Kind load reports each node's part.
func (t *timing) watchLoads(ctx context.Context) context.Context {
	return kind.WithStats(ctx, func(s kind.NodeStats) {
		l := &run.NodeLoad{Span: run.Span{Start: s.Start, End: s.End}, BytesSent: s.BytesSent, BytesSkipped: s.BytesSkipped}
		for _, a := range s.Actions { // one image per load in a build
			l.Action = string(a)
		}
		if s.Err != nil {
			l.Error = s.Err.Error()
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.loads == nil {
			t.loads = map[string]*run.NodeLoad{}
		}
		t.loads[s.Node] = l
	})
}

// record is the run.Timing of img so far.
func (t *timing) record(img *Image) *run.Timing {
	t.mu.Lock()
	defer t.mu.Unlock()
	rt := &run.Timing{DepWait: cp(t.depWait), Inputs: cp(t.inputs), Push: cp(t.push), DeliveryWait: cp(t.deliveryWait), Steps: t.steps.list()}
	var end time.Time
	if img.Duration > 0 {
		end = img.Started.Add(img.Duration)
	}
	switch {
	case img.Started.IsZero():
	case img.Status.IsReused():
		rt.Reuse = &run.Span{Start: img.Started, End: end}
	default:
		rt.Build = &run.Span{Start: img.Started, End: end}
		if !t.slotWait.IsZero() {
			rt.SlotWait = &run.Span{Start: t.slotWait, End: img.Started}
		}
	}
	if rt.Inputs != nil && rt.Inputs.End.IsZero() {
		rt.Inputs = nil // never finished: cancelled before
	}
	return rt
}

// dependsOn is what the service waited for.
func (t *timing) dependsOn() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.deps
}

// nodeLoads is a copy of the per-node load spans, nil when none.
func (t *timing) nodeLoads() map[string]*run.NodeLoad {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.loads) == 0 {
		return nil
	}
	out := make(map[string]*run.NodeLoad, len(t.loads))
	for n, l := range t.loads {
		c := *l
		out[n] = &c
	}
	return out
}

func cp(s *run.Span) *run.Span {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}

// stepTracker reads BuildKit's plain progress ("#5 [2/3] RUN ...",
// "#5 CACHED", "#5 DONE 0.3s", "#5 ERROR: ...") as the build writes it and
// times each step by when its lines arrive. Builders whose output is not
// in that form give no steps, which the record allows.
type stepTracker struct {
	mu      sync.Mutex
	partial []byte
	byID    map[string]int
	steps   []run.Step
}

var stepLine = regexp.MustCompile(`^#(\d+) (.*)$`)

// Write takes build output in any chunks.
func (st *stepTracker) Write(p []byte) (int, error) {
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	st.partial = append(st.partial, p...)
	for {
		i := bytes.IndexByte(st.partial, '\n')
		if i < 0 {
			break
		}
		st.line(strings.TrimRight(string(st.partial[:i]), "\r"), now)
		st.partial = st.partial[i+1:]
	}
	return len(p), nil
}

func (st *stepTracker) line(l string, now time.Time) {
	m := stepLine.FindStringSubmatch(l)
	if m == nil || m[1] == "0" {
		return
	}
	id, rest := m[1], m[2]
	i, seen := st.byID[id]
	if !seen {
		if !strings.HasPrefix(rest, "[") {
			return // a step is named first; anything else is not one
		}
		if st.byID == nil {
			st.byID = map[string]int{}
		}
		st.byID[id] = len(st.steps)
		st.steps = append(st.steps, run.Step{Name: rest, Span: run.Span{Start: now}})
		return
	}
	s := &st.steps[i]
	switch {
	case rest == "CACHED":
		s.Cached, s.Span.End = true, now
	case strings.HasPrefix(rest, "DONE"), rest == "CANCELED":
		s.Span.End = now
	case strings.HasPrefix(rest, "ERROR"):
		s.Error, s.Span.End = true, now
	}
}

func (st *stepTracker) list() []run.Step {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.steps) == 0 {
		return nil
	}
	out := make([]run.Step, 0, len(st.steps))
	for _, s := range st.steps {
		if strings.HasPrefix(s.Name, "[internal]") {
			continue // BuildKit's own bookkeeping, not the Dockerfile's steps
		}
		out = append(out, s)
	}
	return out
}

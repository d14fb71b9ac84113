// Package report renders a run record as a self-contained HTML timeline
// (no network fetches: it opens offline and travels as a CI artefact) and
// as Chrome trace-event JSON that Perfetto opens.
package report

import (
	"bufio"
	"cmp"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/pkg/run"
)

// Phase is one kind of bar on a service's timeline.
type Phase string

const (
	DepWait  Phase = "deps"   // waiting for its dependencies
	Inputs   Phase = "inputs" // input digest and the look for an image to reuse
	SlotWait Phase = "slot"   // waiting for a build slot
	Building Phase = "build"
	Reused   Phase = "reuse"
	Pushing  Phase = "push"
	Queued   Phase = "queue" // waiting for a delivery (load, push) slot
	Loading  Phase = "load"  // one bar per node
	Step     Phase = "step"  // a BuildKit step inside the build
)

// Label is how the report names the phase.
func (p Phase) Label() string {
	switch p {
	case DepWait:
		return "waiting for dependencies"
	case Inputs:
		return "inputs / reuse check"
	case SlotWait:
		return "waiting for a slot"
	case Building:
		return "building"
	case Reused:
		return "reused"
	case Pushing:
		return "pushing"
	case Queued:
		return "waiting to deliver"
	case Loading:
		return "loading"
	case Step:
		return "step"
	}
	return string(p)
}

// Bar is one span on the timeline.
type Bar struct {
	Phase Phase
	// Node is the Kind node of a load; Name a step's BuildKit name.
	Node, Name string
	// Start and End are offsets from the run's start.
	Start, End time.Duration
	// Action is a load's present / retagged / loaded; Cached a step's state.
	Action       string
	Cached       bool
	Failed       bool
	BytesSent    int64
	BytesSkipped int64
	// Critical marks a bar on the chain that set the wall time.
	Critical bool
}

// Duration is the bar's length.
func (b Bar) Duration() time.Duration { return b.End - b.Start }

// Service is one service's rows.
type Service struct {
	Name      string
	Status    run.Status
	Image     string
	DependsOn []string
	// Bars are its phases in time order; Steps the build's BuildKit steps.
	Bars, Steps []Bar
	Error       string
	// LogTail is the end of the log of a failed service.
	LogTail []string
	LogPath string
	// Critical is set when the service is on the critical path.
	Critical bool
	// Done is when its part in the run ended (its last bar).
	Done time.Duration
}

// Model is everything the HTML and the trace show.
type Model struct {
	Run      run.Record
	Totals   run.Totals
	Services []*Service
	// Critical lists the critical path's services, first to last.
	Critical []string
	Wall     time.Duration
}

// Options tune Build.
type Options struct {
	// History is other runs' records, to find what reused images took to
	// build (run.Records); nil counts no time saved.
	History []run.Record
	// TailLines is how many log lines a failed service shows; 0 means 20.
	TailLines int
}

// New builds the model of rec.
func New(rec run.Record, o Options) *Model {
	if o.TailLines == 0 {
		o.TailLines = 20
	}
	m := &Model{Run: rec, Totals: rec.Totals(o.History)}
	m.Wall = m.Totals.Wall
	at := func(t time.Time) time.Duration {
		if t.IsZero() {
			return 0
		}
		return t.Sub(rec.Started)
	}
	span := func(p Phase, sp *run.Span) (Bar, bool) {
		if sp == nil || sp.End.IsZero() {
			return Bar{}, false
		}
		return Bar{Phase: p, Start: at(sp.Start), End: at(sp.End)}, true
	}
	for _, name := range slices.Sorted(maps.Keys(rec.Services)) {
		rs := rec.Services[name]
		s := &Service{Name: name, Status: rs.Status, Image: rs.Image, DependsOn: rs.DependsOn, Error: rs.Error, LogPath: rs.Log}
		if tm := rs.Timing; tm != nil {
			for _, p := range []struct {
				phase Phase
				span  *run.Span
			}{{DepWait, tm.DepWait}, {Inputs, tm.Inputs}, {SlotWait, tm.SlotWait}, {Building, tm.Build}, {Reused, tm.Reuse}, {Queued, tm.DeliveryWait}, {Pushing, tm.Push}} {
				if b, ok := span(p.phase, p.span); ok {
					b.Failed = p.phase == Building && rs.Status == run.Failed && rs.Kind == nil
					s.Bars = append(s.Bars, b)
				}
			}
			for _, st := range tm.Steps {
				if b, ok := span(Step, &st.Span); ok {
					b.Name, b.Cached, b.Failed = st.Name, st.Cached, st.Error
					s.Steps = append(s.Steps, b)
				}
			}
		} else if rs.Started != nil && rs.DurationMS > 0 {
			// A record older than spans: its one known phase.
			p := Building
			if rs.Status.IsReused() {
				p = Reused
			}
			d := time.Duration(rs.DurationMS) * time.Millisecond
			s.Bars = append(s.Bars, Bar{Phase: p, Start: at(*rs.Started), End: at(*rs.Started) + d, Failed: rs.Status == run.Failed})
		}
		if rs.Kind != nil {
			for _, node := range slices.Sorted(maps.Keys(rs.Kind.Loads)) {
				l := rs.Kind.Loads[node]
				if b, ok := span(Loading, &l.Span); ok {
					b.Node, b.Action, b.BytesSent, b.BytesSkipped, b.Failed = node, l.Action, l.BytesSent, l.BytesSkipped, l.Error != ""
					s.Bars = append(s.Bars, b)
				}
			}
		}
		slices.SortStableFunc(s.Bars, func(a, b Bar) int { return cmp.Compare(a.Start, b.Start) })
		for _, b := range s.Bars {
			s.Done = max(s.Done, b.End)
		}
		if rs.Status == run.Failed && rs.Log != "" {
			s.LogTail = tail(rs.Log, o.TailLines)
		}
		m.Services = append(m.Services, s)
	}
	m.markCritical()
	return m
}

// Service returns the named service's rows, or nil.
func (m *Model) Service(name string) *Service {
	for _, s := range m.Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// markCritical finds the chain that set the wall time: the service that
// finished last, then, from what it waited on, the dependency that was
// done last, and so on back to a service that waited for none. On each,
// the bars up to the moment the next one in the chain could go on are
// marked: its waits, its build (or reuse) and, for a dependency pushed
// before its dependents built, that push; the last one's loads too.
func (m *Model) markCritical() {
	var last *Service
	for _, s := range m.Services {
		if len(s.Bars) > 0 && (last == nil || s.Done > last.Done) {
			last = s
		}
	}
	if last == nil {
		return
	}
	var chain []*Service
	until := last.Done // the chain's next link could go on from here
	for s := last; s != nil; {
		chain = append(chain, s)
		s.Critical = true
		var ready time.Duration = -1
		for i := range s.Bars {
			b := &s.Bars[i]
			if b.Start < until || (b.Start == until && b.Duration() == 0) {
				b.Critical = true
			}
			if b.Phase == DepWait {
				ready = b.End
			}
		}
		if ready < 0 {
			break
		}
		// The dependency that was done last is the one it waited for.
		var next *Service
		var nextDone time.Duration
		for _, d := range s.DependsOn {
			ds := m.Service(d)
			if ds == nil || slices.Contains(chain, ds) {
				continue
			}
			done := ds.readyAt(ready)
			if next == nil || done > nextDone {
				next, nextDone = ds, done
			}
		}
		s, until = next, nextDone
		if s == nil {
			break
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		m.Critical = append(m.Critical, chain[i].Name)
	}
}

// readyAt is when s let its dependents go on: the end of its last bar
// that ended by then (its build, reuse, or a push before they built).
func (s *Service) readyAt(by time.Duration) time.Duration {
	var t time.Duration
	for _, b := range s.Bars {
		if b.Phase != Loading && b.Phase != Queued && b.End <= by+time.Millisecond {
			t = max(t, b.End)
		}
	}
	return t
}

// tail reads the last n lines of the file at path; none if it cannot.
func tail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	// Build logs are small enough to scan; keep a ring of the last n.
	ring := make([]string, 0, n)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if len(ring) == n {
			ring = append(ring[:0], ring[1:]...)
		}
		ring = append(ring, strings.TrimRight(sc.Text(), "\r"))
	}
	return ring
}

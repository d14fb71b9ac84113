package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// TraceEvent is one entry of the Chrome trace-event format (the JSON
// Object Format that chrome://tracing and Perfetto open): a complete
// event ("X", with ts and dur in microseconds) or metadata ("M") naming a
// process or thread.
type TraceEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`
	Ts   int64          `json:"ts"`
	Dur  *int64         `json:"dur,omitempty"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	Args map[string]any `json:"args,omitempty"`
}

// Trace is the whole file.
type Trace struct {
	TraceEvents     []TraceEvent      `json:"traceEvents"`
	DisplayTimeUnit string            `json:"displayTimeUnit"`
	OtherData       map[string]string `json:"otherData,omitempty"`
}

// Trace processes: the services' phases, and the Kind nodes' loads.
const (
	pidServices = 1
	pidNodes    = 2
)

// Trace returns m's spans as trace events: one thread per service for its
// phases (with its BuildKit steps on threads of their own, since parallel
// stages overlap and a thread's complete events must nest), and one per
// Kind node for the loads it received. Times are from the run's start.
func (m *Model) Trace() Trace {
	t := Trace{DisplayTimeUnit: "ms", OtherData: map[string]string{
		"run": m.Run.Run, "project": m.Run.Project, "user": m.Run.User, "state": string(m.Run.State)}}
	meta := func(name string, pid, tid int, value string) {
		t.TraceEvents = append(t.TraceEvents, TraceEvent{Name: name, Ph: "M", Pid: pid, Tid: tid, Args: map[string]any{"name": value}})
	}
	complete := func(name, cat string, pid, tid int, b Bar, args map[string]any) {
		dur := max(us(b.Duration()), 0)
		if b.Critical {
			if args == nil {
				args = map[string]any{}
			}
			args["critical"] = true
		}
		t.TraceEvents = append(t.TraceEvents, TraceEvent{Name: name, Cat: cat, Ph: "X", Ts: us(b.Start), Dur: &dur, Pid: pid, Tid: tid, Args: args})
	}
	meta("process_name", pidServices, 0, "slipway run "+m.Run.Run)
	meta("process_name", pidNodes, 0, "Kind nodes")
	type nodeLoad struct {
		service string
		bar     Bar
	}
	byNode := map[string][]nodeLoad{}
	for i, s := range m.Services {
		tid := (i + 1) * 100
		meta("thread_name", pidServices, tid, s.Name)
		t.TraceEvents = append(t.TraceEvents, TraceEvent{Name: "thread_sort_index", Ph: "M", Pid: pidServices, Tid: tid, Args: map[string]any{"sort_index": tid}})
		for _, b := range s.Bars {
			if b.Phase == Loading {
				byNode[b.Node] = append(byNode[b.Node], nodeLoad{s.Name, b})
				continue
			}
			args := map[string]any{"service": s.Name, "status": string(s.Status)}
			if b.Failed {
				args["failed"] = true
			}
			complete(b.Phase.Label(), string(b.Phase), pidServices, tid, b, args)
		}
		for lane, steps := range lanes(s.Steps) {
			stid := tid + 1 + lane
			meta("thread_name", pidServices, stid, fmt.Sprintf("%s steps", s.Name))
			for _, b := range steps {
				complete(b.Name, "step", pidServices, stid, b, map[string]any{"service": s.Name, "cached": b.Cached, "failed": b.Failed})
			}
		}
	}
	for i, node := range slices.Sorted(maps.Keys(byNode)) {
		bars := make([]Bar, len(byNode[node]))
		for j, l := range byNode[node] {
			bars[j] = l.bar
			bars[j].Name = l.service
		}
		for lane, group := range lanes(bars) {
			tid := (i+1)*100 + lane
			meta("thread_name", pidNodes, tid, node)
			for _, b := range group {
				complete(b.Name, "load", pidNodes, tid, b, map[string]any{"service": b.Name, "node": node, "action": b.Action,
					"bytes_sent": b.BytesSent, "bytes_skipped": b.BytesSkipped})
			}
		}
	}
	return t
}

// WriteTrace writes m's trace as JSON.
func (m *Model) WriteTrace(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(m.Trace()); err != nil {
		return fmt.Errorf("writing the trace: %w", err)
	}
	return nil
}

// lanes splits bars into groups in which none overlap, first fit by start.
func lanes(bars []Bar) [][]Bar {
	sorted := slices.Clone(bars)
	slices.SortStableFunc(sorted, func(a, b Bar) int { return cmp.Compare(a.Start, b.Start) })
	var out [][]Bar
	var ends []time.Duration
	for _, b := range sorted {
		placed := false
		for i, end := range ends {
			if b.Start >= end {
				out[i], ends[i], placed = append(out[i], b), b.End, true
				break
			}
		}
		if !placed {
			out, ends = append(out, []Bar{b}), append(ends, b.End)
		}
	}
	return out
}

func us(d time.Duration) int64 { return d.Microseconds() }

package run

import (
	"maps"
	"slices"
	"time"
)

// Totals sum up a run: how long it took, how much building it did in that
// time, what reuse saved and what went to each Kind node.
type Totals struct {
	// Wall is the run's length: start to end, or to the last thing
	// recorded when it has no end (a crashed run).
	Wall time.Duration
	// Build is the sum of every build's length (built and failed ones);
	// Build/Wall is the parallel speed-up.
	Build time.Duration
	// Built, Reused and Failed count services by outcome.
	Built, Reused, Failed int
	// Saved is what the reused images took to build in the runs that built
	// them; Unknown counts reused images whose build is in no record given
	// (pruned, or built by someone else).
	Saved   time.Duration
	Unknown int
	// Nodes is what loading sent to and skipped for each Kind node.
	Nodes map[string]NodeBytes
}

// NodeBytes is the traffic of one node's loads.
type NodeBytes struct {
	Sent, Skipped int64
	// Loaded, Retagged and Present count the node's loads by action.
	Loaded, Retagged, Present int
}

// SpeedUp is total build time over wall time; 0 when nothing was timed.
func (t Totals) SpeedUp() float64 {
	if t.Wall <= 0 {
		return 0
	}
	return float64(t.Build) / float64(t.Wall)
}

// Sent and Skipped are the bytes over every node.
func (t Totals) Sent() int64 {
	var n int64
	for _, b := range t.Nodes {
		n += b.Sent
	}
	return n
}

// Skipped is the bytes layer-aware loading left out, over every node.
func (t Totals) Skipped() int64 {
	var n int64
	for _, b := range t.Nodes {
		n += b.Skipped
	}
	return n
}

// NodeNames are the nodes in Nodes, sorted.
func (t Totals) NodeNames() []string { return slices.Sorted(maps.Keys(t.Nodes)) }

// BuildDuration is how long the service's build took: its build span, or,
// in records older than spans, its duration when it was built.
func (s *Service) BuildDuration() time.Duration {
	if s.Timing != nil && s.Timing.Build != nil {
		return s.Timing.Build.Duration()
	}
	if s.Status == Built || s.Status == Failed {
		return time.Duration(s.DurationMS) * time.Millisecond
	}
	return 0
}

// End is the last moment the record knows of: its end, else the end of
// its latest span.
func (r Record) End() time.Time {
	if r.Ended != nil {
		return *r.Ended
	}
	end := r.Started
	later := func(t time.Time) {
		if t.After(end) {
			end = t
		}
	}
	for _, s := range r.Services {
		if s.Started != nil {
			later(s.Started.Add(time.Duration(s.DurationMS) * time.Millisecond))
		}
		if tm := s.Timing; tm != nil {
			for _, sp := range []*Span{tm.DepWait, tm.Inputs, tm.SlotWait, tm.Build, tm.Reuse, tm.Push, tm.DeliveryWait} {
				if sp != nil {
					later(sp.End)
				}
			}
		}
		if s.Kind != nil {
			for _, l := range s.Kind.Loads {
				later(l.Span.End)
			}
		}
	}
	return end
}

// Totals sums r up. history is other runs' records (run.Records): the
// time saved by a reused image is what it took to build in the run that
// built it, found there by image ID.
func (r Record) Totals(history []Record) Totals {
	t := Totals{Wall: r.End().Sub(r.Started), Nodes: map[string]NodeBytes{}}
	builds := map[string]time.Duration{} // image ID -> its build's length
	for _, h := range history {
		if h.Run == r.Run {
			continue
		}
		for _, s := range h.Services {
			if s.Status == Built && s.ID != "" {
				if d := s.BuildDuration(); d > 0 {
					builds[s.ID] = d
				}
			}
		}
	}
	for _, s := range r.Services {
		t.Build += s.BuildDuration()
		switch s.Status {
		case Built:
			t.Built++
		case Reused, ReusedRegistry:
			t.Reused++
			if d, ok := builds[s.ID]; ok {
				t.Saved += d
			} else {
				t.Unknown++
			}
		case Failed:
			t.Failed++
		}
		if s.Kind == nil {
			continue
		}
		for node, l := range s.Kind.Loads {
			b := t.Nodes[node]
			b.Sent += l.BytesSent
			b.Skipped += l.BytesSkipped
			switch l.Action {
			case "loaded":
				b.Loaded++
			case "retagged":
				b.Retagged++
			case "present":
				b.Present++
			}
			t.Nodes[node] = b
		}
	}
	return t
}

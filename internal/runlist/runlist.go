// Package runlist lists slipway's runs from the state folder — when, by
// whom, what they built and how they ended — and, when given an engine,
// whether their images are still there or were cleaned.
package runlist

import (
	"context"
	"path/filepath"
	"slices"
	"time"

	"github.com/slipway-dev/slipway/internal/inventory"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/run"
)

// Status is how a run stands now. It is the recorded state, except for a
// run whose record still says running while nobody holds its lock: that
// process died without a word.
type Status string

const (
	Running     Status = "running"
	Done        Status = "done"
	Failed      Status = "failed"
	Interrupted Status = "interrupted"
	// Died is a run that stopped without recording an end (killed, crashed).
	Died Status = "died"
)

// Run is one run as `slipway runs` shows it.
type Run struct {
	ID       string     `json:"run"`
	Project  string     `json:"project"`
	User     string     `json:"user"`
	Engine   string     `json:"engine"`
	Started  time.Time  `json:"started"`
	Ended    *time.Time `json:"ended,omitempty"`
	Duration int64      `json:"duration_ms"`
	Status   Status     `json:"status"`
	// Services are the run's services, sorted.
	Services []string `json:"services"`
	Built    int      `json:"built"`
	Reused   int      `json:"reused"`
	Failed   int      `json:"failed"`
	// Clusters are the Kind clusters it loaded into.
	Clusters []string `json:"clusters,omitempty"`
	// Images is how many names the run still owns in the engine (what a
	// clean of it would remove there); nil when the engine was not asked.
	Images *int `json:"images,omitempty"`
	// Cleaned is set when the run produced images and the engine holds no
	// name it owns any more (cleaned, pruned, or --cleanup after a load or
	// push; Kind nodes are not looked at).
	Cleaned bool `json:"cleaned"`
	// Dir is the run's folder: its record and logs.
	Dir string `json:"dir"`
}

// Options picks the runs.
type Options struct {
	StateDir string
	// Project and User, if set, keep only runs of that project, that user.
	Project, User string
	// Limit keeps the newest Limit runs; 0 keeps all.
	Limit int
	// Engine, if set, is asked which runs still own images there.
	Engine engine.Client
}

// List returns the runs, newest first.
func List(ctx context.Context, o Options) ([]Run, error) {
	recs, err := run.Records(o.StateDir)
	if err != nil {
		return nil, err
	}
	live := run.LiveRuns(o.StateDir, recs)
	var owned map[string]int
	if o.Engine != nil {
		copies, err := inventory.List(ctx, o.Engine, nil, recs)
		if err != nil {
			return nil, err
		}
		owned = map[string]int{}
		for _, c := range copies {
			if inventory.OwnedBy(c, c.Run) {
				owned[c.Run]++
			}
		}
	}
	out := []Run{}
	for _, r := range recs {
		if (o.Project != "" && r.Project != o.Project) || (o.User != "" && r.User != o.User) {
			continue
		}
		if o.Limit > 0 && len(out) == o.Limit {
			break
		}
		out = append(out, summarize(o.StateDir, r, live[r.Run], owned))
	}
	return out, nil
}

func summarize(stateDir string, r run.Record, live bool, owned map[string]int) Run {
	s := Run{ID: r.Run, Project: r.Project, User: r.User, Engine: r.Engine, Started: r.Started, Ended: r.Ended,
		Status: status(r, live), Dir: filepath.Join(stateDir, "runs", r.Run), Services: []string{}}
	if r.Ended != nil {
		s.Duration = r.Ended.Sub(r.Started).Milliseconds()
	}
	for name, svc := range r.Services {
		s.Services = append(s.Services, name)
		switch svc.Status {
		case run.Built:
			s.Built++
		case run.Reused, run.ReusedRegistry:
			s.Reused++
		case run.Failed:
			s.Failed++
		}
		if svc.Kind != nil && svc.Kind.Cluster != "" && !slices.Contains(s.Clusters, svc.Kind.Cluster) {
			s.Clusters = append(s.Clusters, svc.Kind.Cluster)
		}
	}
	slices.Sort(s.Services)
	slices.Sort(s.Clusters)
	if owned != nil {
		n := owned[r.Run]
		s.Images = &n
		// A run that produced nothing has nothing to clean.
		s.Cleaned = n == 0 && !live && s.Built+s.Reused > 0
	}
	return s
}

func status(r run.Record, live bool) Status {
	switch {
	case live:
		return Running
	case r.State == run.Running || r.State == "":
		return Died
	case r.State == run.Done:
		return Done
	case r.State == run.RunFailed:
		return Failed
	case r.State == run.Interrupted:
		return Interrupted
	}
	return Status(r.State)
}

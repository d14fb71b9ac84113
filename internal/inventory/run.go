package inventory

import (
	"cmp"
	"context"
	"slices"

	"github.com/slipway-dev/slipway/internal/clusters"
	"github.com/slipway-dev/slipway/internal/errs"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/run"
)

// CleanOptions picks the run to clean.
type CleanOptions struct {
	// Run is the run ID; "" means the newest run in the state folder (of
	// Project, when set).
	Run     string
	Project string
	// Clusters are Kind clusters to clean besides those the run loaded into.
	Clusters []string
	// Force cleans a run that still holds its lock.
	Force    bool
	DryRun   bool
	StateDir string
	Engine   string
}

// CleanRun removes one run's images from the engine and from every Kind node
// it reached — only names that run gave, never another run's or user's.
func CleanRun(ctx context.Context, o CleanOptions) (*Removal, error) {
	stateDir := o.StateDir
	if stateDir == "" {
		stateDir = run.StateDir()
	}
	recs, err := run.Records(stateDir)
	if err != nil {
		return nil, err
	}
	id := o.Run
	if id == "" {
		for _, r := range recs {
			if o.Project == "" || r.Project == o.Project {
				id = r.Run
				break
			}
		}
		if id == "" {
			return nil, errs.Usagef("no runs of %s recorded in %s", cmp.Or(o.Project, "any project"), stateDir)
		}
	}
	rec, dir, err := run.Load(stateDir, id)
	if err != nil {
		return nil, errs.Usage(err)
	}
	release, ok, err := run.TryLock(dir)
	if err != nil {
		return nil, err
	}
	if !ok && !o.Force {
		return nil, errs.Usagef("run %s is still in progress; refusing to clean it (use --force)", id)
	}
	if ok {
		defer release()
	}
	engName := o.Engine
	if engName == "" {
		engName = rec.Engine
	}
	eng, err := Detect(ctx, engName)
	if err != nil {
		return nil, err
	}
	// The clusters the run recorded, and any the caller names (images it
	// loaded with Load, outside the run); only named ones must exist.
	cs, err := clusters.FindAll(ctx, o.Clusters, true)
	if err != nil {
		return nil, err
	}
	var recorded []string
	for _, s := range rec.Services {
		if k := s.Kind; k != nil && k.Cluster != "" && !slices.Contains(recorded, k.Cluster) && !slices.Contains(o.Clusters, k.Cluster) {
			recorded = append(recorded, k.Cluster)
		}
	}
	more, _ := clusters.FindAll(ctx, recorded, false)
	return Clean(ctx, eng, append(cs, more...), recs, id, o.DryRun)
}

// Detect finds the engine; not finding one is bad input, unless the caller
// gave up meanwhile (a Ctrl-C while the engine is probed).
func Detect(ctx context.Context, name string) (*engine.Engine, error) {
	eng, err := engine.Detect(ctx, name)
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, errs.Usage(err)
	}
	return eng, nil
}

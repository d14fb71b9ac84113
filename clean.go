package slipway

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/slipway-dev/slipway/internal/clusters"
	"github.com/slipway-dev/slipway/internal/inventory"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/kind"
	"github.com/slipway-dev/slipway/pkg/run"
	"github.com/slipway-dev/slipway/pkg/tag"
)

// Copy is one name of a slipway-made image in one place: the engine, or a
// Kind node ("cluster/node").
type Copy = inventory.Copy

// Removal is what a clean or prune removed (or, dry, would remove) and
// what it kept because a container uses it.
type Removal = inventory.Removal

// EnginePlace is the Place of copies in the local engine.
const EnginePlace = inventory.EnginePlace

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

// Clean removes one run's images from the engine and from every Kind node
// it reached — only names that run gave, never another run's or user's.
func Clean(ctx context.Context, o CleanOptions) (*Removal, error) {
	stateDir := orState(o.StateDir)
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
			return nil, usagef("no runs of %s recorded in %s", firstNonEmpty(o.Project, "any project"), stateDir)
		}
	}
	rec, dir, err := run.Load(stateDir, id)
	if err != nil {
		return nil, usage(err)
	}
	release, ok, err := run.TryLock(dir)
	if err != nil {
		return nil, err
	}
	if !ok && !o.Force {
		return nil, usagef("run %s is still in progress; refusing to clean it (use --force)", id)
	}
	if ok {
		defer release()
	}
	eng, err := detect(ctx, firstNonEmpty(o.Engine, rec.Engine))
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
	return inventory.Clean(ctx, eng, append(cs, more...), recs, id, o.DryRun)
}

// PruneOptions picks images by age and owner.
type PruneOptions struct {
	// OlderThan is how long ago a name must have been given.
	OlderThan time.Duration
	// User is whose images; "" means the current user.
	User     string
	AllUsers bool
	// Project, if set, limits pruning to one project's images.
	Project string
	// Keep keeps the newest Keep images of each service in each place.
	Keep     int
	Clusters []string
	DryRun   bool
	StateDir string
	Engine   string
}

// Prune removes slipway-made image names older than OlderThan, of one
// user (or all), from the engine and the named Kind clusters, and the run
// folders and tag reservations nothing is left of.
func Prune(ctx context.Context, o PruneOptions) (*Removal, error) {
	if o.OlderThan < 0 {
		return nil, usagef("--older-than %s: must not be negative", o.OlderThan)
	}
	if o.Keep < 0 {
		return nil, usagef("--keep %d: must not be negative", o.Keep)
	}
	eng, err := detect(ctx, o.Engine)
	if err != nil {
		return nil, err
	}
	cs, err := clusters.FindAll(ctx, o.Clusters, true)
	if err != nil {
		return nil, err
	}
	return inventory.Prune(ctx, eng, cs, orState(o.StateDir), inventory.Policy{
		OlderThan: o.OlderThan, User: firstNonEmpty(o.User, tag.CurrentUser()), AllUsers: o.AllUsers,
		Project: o.Project, Keep: o.Keep, DryRun: o.DryRun,
	})
}

// ListOptions says where List looks.
type ListOptions struct {
	// Engine is "docker", "podman" or "" to detect.
	Engine string
	// Clusters are the Kind clusters to list; none means every cluster found.
	Clusters []string
	StateDir string
}

// List returns every slipway-made image name in the engine and in the
// clusters, by place and newest first.
func List(ctx context.Context, o ListOptions) ([]Copy, error) {
	eng, err := detect(ctx, o.Engine)
	if err != nil {
		return nil, err
	}
	names, explicit := o.Clusters, len(o.Clusters) > 0
	if !explicit {
		names = SortedServices(kind.List())
	}
	cs, err := clusters.FindAll(ctx, names, explicit)
	if err != nil {
		return nil, err
	}
	recs, err := run.Records(orState(o.StateDir))
	if err != nil {
		return nil, err
	}
	copies, err := inventory.List(ctx, eng, cs, recs)
	sort.SliceStable(copies, func(i, j int) bool {
		if copies[i].Place != copies[j].Place {
			return copies[i].Place < copies[j].Place
		}
		return copies[i].Tagged.After(copies[j].Tagged)
	})
	return copies, err
}

// detect finds the engine; not finding one is bad input, unless the caller
// gave up meanwhile (a Ctrl-C while the engine is probed).
func detect(ctx context.Context, name string) (*engine.Engine, error) {
	eng, err := engine.Detect(ctx, name)
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, usage(err)
	}
	return eng, nil
}

func orState(d string) string {
	if d == "" {
		return run.StateDir()
	}
	return d
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

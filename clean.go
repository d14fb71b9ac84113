package slipway

import (
	"cmp"
	"context"
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
type CleanOptions = inventory.CleanOptions

// Clean removes one run's images from the engine and from every Kind node
// it reached — only names that run gave, never another run's or user's.
func Clean(ctx context.Context, o CleanOptions) (*Removal, error) { return inventory.CleanRun(ctx, o) }

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
		OlderThan: o.OlderThan, User: cmp.Or(o.User, tag.CurrentUser()), AllUsers: o.AllUsers,
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
	if err != nil && !explicit {
		// Clusters nobody named are looked at as a courtesy: a node that
		// cannot be listed (paused, stopping) is reported, not fatal.
		err = &Unlisted{Err: err}
	}
	sort.SliceStable(copies, func(i, j int) bool {
		if copies[i].Place != copies[j].Place {
			return copies[i].Place < copies[j].Place
		}
		return copies[i].Tagged.After(copies[j].Tagged)
	})
	return copies, err
}

// Unlisted is List's error when only nodes of clusters it was not asked
// about could not be listed; the copies it returns are the rest.
type Unlisted struct{ Err error }

func (u *Unlisted) Error() string { return "some Kind nodes could not be listed: " + u.Err.Error() }
func (u *Unlisted) Unwrap() error { return u.Err }

// detect finds the engine (see inventory.Detect).
func detect(ctx context.Context, name string) (*engine.Engine, error) {
	return inventory.Detect(ctx, name)
}

func orState(d string) string {
	if d == "" {
		return run.StateDir()
	}
	return d
}

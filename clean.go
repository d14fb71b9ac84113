package slipway

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/kind"
	"github.com/slipway-dev/slipway/pkg/run"
	"github.com/slipway-dev/slipway/pkg/tag"
)

// Removal is what a clean or prune removed (or, dry, would remove) and
// what it kept because a container uses it.
type Removal struct {
	Run     string
	Removed []Copy
	Kept    []Copy
	DryRun  bool
	// Runs are the run folders prune removed (or, dry, would remove).
	Runs []string
	// Reservations counts the stale tag reservations prune removed.
	Reservations int
}

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
	eng, err := engine.Detect(ctx, firstNonEmpty(o.Engine, rec.Engine))
	if err != nil {
		return nil, usage(err)
	}
	// The clusters the run recorded, and any the caller names (images it
	// loaded with Load, outside the run); only named ones must exist.
	clusters, err := findClusters(ctx, o.Clusters, true)
	if err != nil {
		return nil, err
	}
	var recorded []string
	for _, s := range rec.Services {
		if k := s.Kind; k != nil && k.Cluster != "" && !slices.Contains(recorded, k.Cluster) && !slices.Contains(o.Clusters, k.Cluster) {
			recorded = append(recorded, k.Cluster)
		}
	}
	more, _ := findClusters(ctx, recorded, false)
	clusters = append(clusters, more...)
	return clean(ctx, eng, clusters, recs, id, o.DryRun)
}

// clean removes, from the engine and the clusters' nodes, every name run id
// owns (see ownedBy).
func clean(ctx context.Context, eng engine.Client, clusters []*kind.Cluster, recs []run.Record, id string, dry bool) (*Removal, error) {
	copies, err := inventory(ctx, eng, clusters, recs)
	if err != nil {
		return nil, err
	}
	var targets []Copy
	for _, c := range copies {
		if ownedBy(c, id) {
			targets = append(targets, c)
		}
	}
	return apply(ctx, eng, id, targets, dry)
}

// ownedBy reports whether run id may remove copy c: the run's record is the
// newest to give this name, and the name still points at the image the run
// gave it to — or, when the run died before recording an ID, at an image
// that run built under this very name. Labels alone never decide: a
// re-tagged image keeps the labels of the run that built it.
func ownedBy(c Copy, id string) bool {
	if c.Run != id {
		return false
	}
	if c.recordedID != "" {
		return c.recordedID == c.ID
	}
	return c.built && c.builtBy == id
}

// PruneOptions picks images by age and owner.
type PruneOptions struct {
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

// Prune removes slipway-made images older than OlderThan, of one user (or
// all), from the engine and the named Kind clusters.
func Prune(ctx context.Context, o PruneOptions) (*Removal, error) {
	if o.OlderThan < 0 {
		return nil, usagef("--older-than %s: must not be negative", o.OlderThan)
	}
	if o.Keep < 0 {
		return nil, usagef("--keep %d: must not be negative", o.Keep)
	}
	user := o.User
	if user == "" {
		user = tag.CurrentUser()
	}
	eng, err := engine.Detect(ctx, o.Engine)
	if err != nil {
		return nil, usage(err)
	}
	clusters, err := findClusters(ctx, o.Clusters, true)
	if err != nil {
		return nil, err
	}
	return prune(ctx, eng, clusters, o, user)
}

// prune is Prune once the engine and clusters are found: user's (or, with
// AllUsers, everyone's) names older than the limit, then the run folders
// and reservations nothing is left of.
func prune(ctx context.Context, eng engine.Client, clusters []*kind.Cluster, o PruneOptions, user string) (*Removal, error) {
	stateDir := orState(o.StateDir)
	recs, err := run.Records(stateDir)
	if err != nil {
		return nil, err
	}
	// Names a running run gave or borrowed stay, however old their image:
	// prune takes no run's lock, so it must not pull images from under one.
	live := run.LiveRuns(stateDir, recs)
	liveRefs := map[string]bool{}
	for _, r := range recs {
		if live[r.Run] {
			for _, s := range r.Services {
				liveRefs[s.Image] = true
			}
		}
	}
	copies, err := inventory(ctx, eng, clusters, recs)
	if err != nil {
		return nil, err
	}
	// Newest name first, so the first Keep of each place+project+service stay.
	sort.SliceStable(copies, func(i, j int) bool { return copies[i].Tagged.After(copies[j].Tagged) })
	seen := map[string]int{}
	cutoff := time.Now().Add(-o.OlderThan)
	mine := func(u, project string) bool {
		return (o.AllUsers || u == user) && (o.Project == "" || project == o.Project)
	}
	var targets []Copy
	for _, c := range copies {
		if !mine(c.User, c.Project) {
			continue
		}
		key := c.Place + "\x00" + c.Project + "\x00" + c.Service
		seen[key]++
		if seen[key] <= o.Keep || c.Tagged.After(cutoff) || liveRefs[c.Ref] || live[c.Run] {
			continue
		}
		targets = append(targets, c)
	}
	res, err := apply(ctx, eng, "", targets, o.DryRun)
	if err != nil {
		return res, err
	}
	// Housekeeping: a run folder goes once the run is over, older than the
	// limit, and no name it owns is left in the places looked at.
	gone := map[string]bool{}
	for _, c := range res.Removed {
		gone[c.String()] = true
	}
	left := map[string]bool{}
	for _, c := range copies {
		if !gone[c.String()] {
			left[c.Run] = true
		}
	}
	looked := map[string]bool{}
	for _, c := range clusters {
		looked[c.Name] = true
	}
	if !o.DryRun {
		// Before the run folders go: a claim whose run has no folder looks
		// like the claim of a run that is only starting.
		n, err := run.PruneReservations(stateDir, cutoff)
		res.Reservations = n
		if err != nil {
			return res, err
		}
	}
	existing := kind.List()
	for _, r := range recs {
		end := r.Started
		if r.Ended != nil {
			end = *r.Ended
		}
		if live[r.Run] || left[r.Run] || end.After(cutoff) || !mine(r.User, r.Project) || loadedElsewhere(r, looked, existing) {
			continue
		}
		if !o.DryRun {
			if err := run.Remove(stateDir, r.Run); err != nil {
				continue // it started again, or is being cleaned: keep it
			}
		}
		res.Runs = append(res.Runs, r.Run)
	}
	return res, nil
}

// loadedElsewhere reports whether run r loaded images into a cluster that
// still exists but was not looked at: its record is what lets a later clean
// find those names, so it stays.
func loadedElsewhere(r run.Record, looked map[string]bool, existing map[string][]string) bool {
	for _, s := range r.Services {
		if k := s.Kind; k != nil && !looked[k.Cluster] && existing[k.Cluster] != nil {
			return true
		}
	}
	return false
}

// List returns every slipway-made image name in the engine and in the
// named clusters (all clusters found when none are named).
func List(ctx context.Context, engineName string, clusterNames []string, stateDir string) ([]Copy, error) {
	eng, err := engine.Detect(ctx, engineName)
	if err != nil {
		return nil, usage(err)
	}
	explicit := len(clusterNames) > 0
	if !explicit {
		clusterNames = SortedServices(kind.List())
	}
	clusters, err := findClusters(ctx, clusterNames, explicit)
	if err != nil {
		return nil, err
	}
	recs, err := run.Records(orState(stateDir))
	if err != nil {
		return nil, err
	}
	copies, err := inventory(ctx, eng, clusters, recs)
	sort.SliceStable(copies, func(i, j int) bool {
		if copies[i].Place != copies[j].Place {
			return copies[i].Place < copies[j].Place
		}
		return copies[i].Created.After(copies[j].Created)
	})
	return copies, err
}

func apply(ctx context.Context, eng engine.Client, runID string, targets []Copy, dry bool) (*Removal, error) {
	r := &Removal{Run: runID, DryRun: dry}
	var doomed []Copy
	for _, c := range targets {
		if c.InUse {
			r.Kept = append(r.Kept, c)
		} else {
			doomed = append(doomed, c)
		}
	}
	if dry {
		r.Removed = doomed
		return r, nil
	}
	done, err := remove(ctx, eng, doomed)
	r.Removed = done
	return r, err
}

// findClusters finds each named cluster. A cluster the user named must
// exist; one only remembered from a run record may be gone, and is skipped.
func findClusters(ctx context.Context, names []string, mustExist bool) ([]*kind.Cluster, error) {
	var out []*kind.Cluster
	for _, n := range names {
		c, err := kind.Find(ctx, n, nil)
		switch {
		case err == nil:
			out = append(out, c)
		case mustExist:
			return nil, usage(err)
		}
		// A cluster gone since the run holds nothing left to clean.
	}
	return out, nil
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

// String is "place ref" for reports.
func (c Copy) String() string { return fmt.Sprintf("%s %s", c.Place, c.Ref) }

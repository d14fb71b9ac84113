// Package inventory knows where slipway's images are — the engine and
// each Kind node — and which of them a clean or prune may remove. Ownership
// comes from run records, never from image labels alone: a run owns the
// names its record gives, while they still name the image it gave them to.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/labels"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/kind"
	"github.com/slipway-dev/slipway/pkg/run"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// EnginePlace is the Place of copies in the local engine.
const EnginePlace = "engine"

// Copy is one name of a slipway-made image in one place: the engine, or a
// Kind node ("cluster/node").
type Copy struct {
	Place   string
	Ref     string
	ID      string
	Service string
	User    string
	// Run is the run that owns this name: the newest run whose record
	// gives it, else the run that built the image under it.
	Run     string
	Project string
	// Created is when the image was built (its label).
	Created time.Time
	// Tagged is when this name was given (from the owning run's record):
	// a re-tagged image is as old as its newest name, not its build.
	Tagged time.Time
	Size   int64
	InUse  bool // a container uses it: never removed

	// built: the image was built under this very name (its
	// dev.slipway.ref label), by the run in its dev.slipway.run label.
	built   bool
	builtBy string
	// recordedID is the image the owning run's record gave this name to.
	recordedID string
	node       nodes.Node
}

// List lists the copies slipway may remove: names it gave to images it
// built (the image's own dev.slipway.ref label, or a name a run record
// says it gave that image). Foreign names of the same image are never
// listed, nor names a run only borrowed.
func List(ctx context.Context, eng engine.Client, clusters []*kind.Cluster, recs []run.Record) ([]Copy, error) {
	owners := run.Owners(recs)
	ours := func(ref, id string, l map[string]string) bool {
		if l[labels.User] == "" {
			return false
		}
		return l[labels.Ref] == ref || owners[ref].ID == id
	}
	newCopy := func(place, ref, id string, l map[string]string, size int64, inUse bool, n nodes.Node) Copy {
		c := Copy{Place: place, Ref: ref, ID: id, Service: l[labels.Service], User: l[labels.User], Run: l[labels.Run],
			Project: l[labels.Project], Size: size, InUse: inUse, node: n,
			built: l[labels.Ref] == ref, builtBy: l[labels.Run]}
		// Nanoseconds, so that runs started in the same second still order.
		if t, err := time.Parse(time.RFC3339Nano, l[labels.Created]); err == nil {
			c.Created = t
		} else if sec, err := strconv.ParseInt(l[labels.Created], 10, 64); err == nil {
			c.Created = time.Unix(sec, 0) // images labelled before the change
		}
		c.Tagged = c.Created
		if o, ok := owners[ref]; ok {
			c.Run, c.Tagged, c.recordedID = o.Run, o.Tagged, o.ID
		}
		return c
	}
	var mu sync.Mutex
	var out []Copy
	add := func(c Copy) { mu.Lock(); out = append(out, c); mu.Unlock() }
	var errs []error

	if eng != nil {
		imgs, err := eng.Images(ctx, map[string]string{labels.User: ""})
		if err != nil {
			return nil, err
		}
		used, err := eng.ImagesInUse(ctx)
		if err != nil {
			return nil, err
		}
		for _, img := range imgs {
			for _, ref := range img.RepoTags {
				if ours(ref, img.ID, img.Labels) {
					add(newCopy(EnginePlace, ref, img.ID, img.Labels, img.Size, used[img.ID], nil))
				}
			}
		}
	}
	var wg sync.WaitGroup
	for _, c := range clusters {
		for _, n := range c.Nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				imgs, err := kind.Images(ctx, n)
				if err == nil {
					var used map[string]bool
					if used, err = kind.ImagesInUse(ctx, n); err == nil {
						for _, img := range imgs {
							for _, ref := range img.RepoTags {
								if ours(ref, img.ID, img.Labels) {
									add(newCopy(c.Name+"/"+n.String(), ref, img.ID, img.Labels, img.Size, used[ref] || used[img.ID], n))
								}
							}
						}
					}
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// remove untags copies, grouped by place, and returns what it removed.
func remove(ctx context.Context, eng engine.Client, copies []Copy) ([]Copy, error) {
	byPlace := map[string][]Copy{}
	for _, c := range copies {
		byPlace[c.Place] = append(byPlace[c.Place], c)
	}
	var done []Copy
	var errs []error
	for place, cs := range byPlace {
		refs := make([]string, len(cs))
		for i, c := range cs {
			refs[i] = c.Ref
		}
		var err error
		if place == EnginePlace {
			err = eng.Untag(ctx, refs...)
		} else {
			err = kind.RemoveRefs(ctx, cs[0].node, refs...)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, cs...)
	}
	return done, errors.Join(errs...)
}

// String is "place ref" for reports.
func (c Copy) String() string { return fmt.Sprintf("%s %s", c.Place, c.Ref) }

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

// Clean removes, from the engine and the clusters' nodes, every name run id
// owns (see ownedBy).
func Clean(ctx context.Context, eng engine.Client, clusters []*kind.Cluster, recs []run.Record, id string, dry bool) (*Removal, error) {
	copies, err := List(ctx, eng, clusters, recs)
	if err != nil {
		return nil, err
	}
	var targets []Copy
	for _, c := range copies {
		if OwnedBy(c, id) {
			targets = append(targets, c)
		}
	}
	return Apply(ctx, eng, id, targets, dry)
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

// Policy says what Prune removes.
type Policy struct {
	// OlderThan is the age limit of a name (since it was given).
	OlderThan time.Duration
	// User is whose names; AllUsers means everyone's.
	User     string
	AllUsers bool
	// Project, if set, limits pruning to one project.
	Project string
	// Keep keeps the newest Keep names of each service in each place.
	Keep   int
	DryRun bool
}

// Prune removes the user's (or, with AllUsers, everyone's) names older than
// the limit from the engine and the clusters' nodes, then the run folders
// and tag reservations nothing is left of.
func Prune(ctx context.Context, eng engine.Client, clusters []*kind.Cluster, stateDir string, o Policy) (*Removal, error) {
	user := o.User
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
	copies, err := List(ctx, eng, clusters, recs)
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
	res, err := Apply(ctx, eng, "", targets, o.DryRun)
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

// Apply removes targets, except those a container uses, which it keeps and
// reports; dry only reports.
func Apply(ctx context.Context, eng engine.Client, runID string, targets []Copy, dry bool) (*Removal, error) {
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

// OwnedBy reports whether run id may remove copy c: the run's record is the
// newest to give this name, and the name still points at the image the run
// gave it to — or, when the run died before recording an ID, at an image
// that run built under this very name. Labels alone never decide: a
// re-tagged image keeps the labels of the run that built it.
func OwnedBy(c Copy, id string) bool {
	if c.Run != id {
		return false
	}
	if c.recordedID != "" {
		return c.recordedID == c.ID
	}
	return c.built && c.builtBy == id
}

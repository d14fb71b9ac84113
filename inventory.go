package slipway

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

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

// inventory lists the copies slipway may remove: names it gave to images it
// built (the image's own dev.slipway.ref label, or a name a run record
// says it gave that image). Foreign names of the same image are never
// listed, nor names a run only borrowed.
func inventory(ctx context.Context, eng engine.Client, clusters []*kind.Cluster, recs []run.Record) ([]Copy, error) {
	owners := run.Owners(recs)
	ours := func(ref, id string, labels map[string]string) bool {
		if labels[LabelUser] == "" {
			return false
		}
		return labels[LabelRef] == ref || owners[ref].ID == id
	}
	newCopy := func(place, ref, id string, l map[string]string, size int64, inUse bool, n nodes.Node) Copy {
		c := Copy{Place: place, Ref: ref, ID: id, Service: l[LabelService], User: l[LabelUser], Run: l[LabelRun],
			Project: l[LabelProject], Size: size, InUse: inUse, node: n,
			built: l[LabelRef] == ref, builtBy: l[LabelRun]}
		// Nanoseconds, so that runs started in the same second still order.
		if t, err := time.Parse(time.RFC3339Nano, l[LabelCreated]); err == nil {
			c.Created = t
		} else if sec, err := strconv.ParseInt(l[LabelCreated], 10, 64); err == nil {
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
		imgs, err := eng.Images(ctx, map[string]string{LabelUser: ""})
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

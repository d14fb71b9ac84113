// Package clusters finds the Kind clusters a command names and loads
// images into their nodes (the work is in pkg/kind; this is the part the
// build, load and clean stages share).
package clusters

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/errs"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/kind"
)

// KindOptions says which Kind cluster, and which of its nodes, get images.
type KindOptions struct {
	// Cluster is the cluster name; "" means KIND_CLUSTER_NAME, then the
	// config's kind.cluster, then the only cluster present.
	Cluster string
	// Nodes, if set, limits loading to these node names.
	Nodes []string
	// Wait, if set, lets a run start before the cluster exists (while
	// `kind create cluster` runs beside it): builds go on, and loads wait
	// up to Wait for the cluster to be ready (kind.Await).
	Wait time.Duration
}

// Awaited is a cluster a run waits for: the first load to ask waits until
// it is ready or Wait has passed, and every later one gets that answer.
type Awaited struct {
	Name  string
	Nodes []string
	Wait  time.Duration

	once    sync.Once
	cluster *kind.Cluster
	err     error
}

// Cluster waits for the cluster, once for the run.
func (a *Awaited) Cluster(ctx context.Context) (*kind.Cluster, error) {
	a.once.Do(func() {
		ctx, cancel := context.WithTimeoutCause(ctx, a.Wait,
			fmt.Errorf("Kind cluster %q was not ready to take images within --kind-wait %s", a.Name, a.Wait))
		defer cancel()
		a.cluster, a.err = kind.Await(ctx, a.Name, a.Nodes)
	})
	return a.cluster, a.err
}

// Await is the cluster o names, to be waited for: its name must be known
// now (given, or the only cluster present), its nodes need not exist yet.
func Await(o KindOptions, configCluster string) (*Awaited, error) {
	name, err := kind.Resolve(o.Cluster, configCluster)
	if err != nil {
		return nil, errs.Usage(err)
	}
	return &Awaited{Name: name, Nodes: o.Nodes, Wait: o.Wait}, nil
}

// Loaded is one image's load into a cluster.
type Loaded struct {
	Ref      string
	Cluster  string
	Nodes    map[string]kind.Action
	Duration time.Duration
	Err      error
}

// Summary is "cluster: node=action ..." for tables and logs.
func (l *Loaded) Summary() string {
	var parts []string
	for _, n := range slices.Sorted(maps.Keys(l.Nodes)) {
		parts = append(parts, n+"="+string(l.Nodes[n]))
	}
	return l.Cluster + ": " + strings.Join(parts, " ")
}

// Find resolves and finds the cluster; its errors are usage errors, so a
// missing cluster stops a run before anything is built.
func Find(ctx context.Context, o KindOptions, configCluster string) (*kind.Cluster, error) {
	name, err := kind.Resolve(o.Cluster, configCluster)
	if err != nil {
		return nil, errs.Usage(err)
	}
	c, err := kind.Find(ctx, name, o.Nodes)
	if err != nil {
		return nil, errs.Usage(err)
	}
	if len(c.Nodes) == 0 {
		return nil, errs.Usage(fmt.Errorf("Kind cluster %q has no nodes", name))
	}
	return c, nil
}

// FindAll finds each named cluster. A cluster the user named must exist;
// one only remembered from a run record may be gone, and is skipped.
func FindAll(ctx context.Context, names []string, mustExist bool) ([]*kind.Cluster, error) {
	var out []*kind.Cluster
	for _, n := range names {
		c, err := kind.Find(ctx, n, nil)
		switch {
		case err == nil:
			out = append(out, c)
		case mustExist:
			return nil, errs.Usage(err)
		}
		// A cluster gone since the run holds nothing left to clean.
	}
	return out, nil
}

// LoadOne loads one image into every node of c that lacks it.
func LoadOne(ctx context.Context, c *kind.Cluster, eng engine.Client, img kind.Image) *Loaded {
	start := time.Now()
	if img.Layers == nil {
		if im, err := eng.Inspect(ctx, img.Ref); err == nil {
			img.Layers = im.Layers
		}
	}
	nodes, err := kind.Load(ctx, c, eng, img)
	return &Loaded{Ref: img.Ref, Cluster: c.Name, Nodes: nodes, Duration: time.Since(start), Err: err}
}

// LoadAll loads refs, images in eng, into c in one batch, sending only what
// each node lacks; one entry per ref.
func LoadAll(ctx context.Context, c *kind.Cluster, eng engine.Client, refs ...string) (map[string]*Loaded, error) {
	found, err := eng.InspectAll(ctx, refs...)
	if err != nil {
		return nil, errs.Usagef("loading: %w", err)
	}
	imgs := make([]kind.Image, len(refs))
	for i, r := range refs {
		imgs[i] = kind.Image{Ref: r, ID: found[i].ID, Layers: found[i].Layers}
	}
	start := time.Now()
	actions, err := kind.LoadAll(ctx, c, eng, imgs)
	out := map[string]*Loaded{}
	for _, img := range imgs {
		out[img.Ref] = &Loaded{Ref: img.Ref, Cluster: c.Name, Nodes: actions[img.Ref], Duration: time.Since(start)}
		if len(actions[img.Ref]) < len(c.Nodes) {
			out[img.Ref].Err = err
		}
	}
	return out, err
}

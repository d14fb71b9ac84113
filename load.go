package slipway

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/pkg/config"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/kind"
	"github.com/slipway-dev/slipway/pkg/run"
)

// KindOptions says which Kind cluster, and which of its nodes, get images.
type KindOptions struct {
	// Cluster is the cluster name; "" means KIND_CLUSTER_NAME, then the
	// config's kind.cluster, then the only cluster present.
	Cluster string
	// Nodes, if set, limits loading to these node names.
	Nodes []string
}

// Loaded is one image's load into a cluster.
type Loaded struct {
	Ref      string
	Cluster  string
	Nodes    map[string]kind.Action
	Duration time.Duration
	Err      error
}

// LoadOptions configures Load.
type LoadOptions struct {
	Kind KindOptions
	// Engine holding the images: "docker", "podman" or "" to detect.
	Engine string
	// ConfigCluster is the config's kind.cluster default, if any.
	ConfigCluster string
}

// Load puts refs (images in the engine) into the Kind cluster's nodes,
// sending only what each node lacks. It returns one entry per ref.
func Load(ctx context.Context, o LoadOptions, refs ...string) (map[string]*Loaded, error) {
	eng, err := engine.Detect(ctx, o.Engine)
	if err != nil {
		return nil, usage(err)
	}
	c, err := findCluster(ctx, o.Kind, o.ConfigCluster)
	if err != nil {
		return nil, err
	}
	found, err := eng.InspectAll(ctx, refs...)
	if err != nil {
		return nil, usagef("loading: %w", err)
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

func loadOne(ctx context.Context, c *kind.Cluster, eng engine.Client, img kind.Image) *Loaded {
	start := time.Now()
	if img.Layers == nil {
		if im, err := eng.Inspect(ctx, img.Ref); err == nil {
			img.Layers = im.Layers
		}
	}
	nodes, err := kind.Load(ctx, c, eng, img)
	return &Loaded{Ref: img.Ref, Cluster: c.Name, Nodes: nodes, Duration: time.Since(start), Err: err}
}

// findCluster resolves and finds the cluster; its errors are usage errors,
// so a missing cluster stops a run before anything is built.
func findCluster(ctx context.Context, o KindOptions, configCluster string) (*kind.Cluster, error) {
	name, err := kind.Resolve(o.Cluster, configCluster)
	if err != nil {
		return nil, usage(err)
	}
	c, err := kind.Find(ctx, name, o.Nodes)
	if err != nil {
		return nil, usage(err)
	}
	if len(c.Nodes) == 0 {
		return nil, usage(fmt.Errorf("Kind cluster %q has no nodes", name))
	}
	return c, nil
}

// Resolved is what ResolveImages found: image references, the config's
// default Kind cluster, and the engine that built the images named by
// service (from the run record), "" when none was named that way.
type Resolved struct {
	Refs    []string
	Cluster string
	Engine  string
}

// ResolveImages turns service names into the image the newest run of the
// project built for each; arguments with ':' or '/' are image references
// already. It also returns the config's default Kind cluster.
func ResolveImages(configPath string, args []string) ([]string, string, error) {
	r, err := Resolve(configPath, args)
	if err != nil {
		return nil, "", err
	}
	return r.Refs, r.Cluster, nil
}

// Resolve is ResolveImages that also says which engine holds the images:
// a run that built with Podman left its images in Podman, not Docker.
func Resolve(configPath string, args []string) (*Resolved, error) {
	var cfg *config.Config
	out := &Resolved{}
	for _, a := range args {
		if strings.ContainsAny(a, ":/") {
			out.Refs = append(out.Refs, a)
			continue
		}
		if cfg == nil {
			c, err := config.Load(orDot(configPath))
			if err != nil {
				return nil, usage(err)
			}
			cfg = c
		}
		if cfg.Services[a] == nil {
			return nil, usagef("unknown service %q", a)
		}
		ref, eng, err := latestBuilt(run.StateDir(), cfg.Project, a)
		if err != nil {
			return nil, err
		}
		if out.Engine != "" && eng != out.Engine {
			return nil, usagef("the newest builds of these services are in different engines (%s and %s): load them separately", out.Engine, eng)
		}
		out.Refs, out.Engine = append(out.Refs, ref), eng
	}
	if cfg != nil {
		out.Cluster = cfg.Kind.Cluster
	} else if c, err := config.Load(orDot(configPath)); err == nil {
		out.Cluster = c.Kind.Cluster
	}
	return out, nil
}

func latestBuilt(stateDir, project, service string) (ref, engine string, err error) {
	recs, err := run.Records(stateDir)
	if err != nil {
		return "", "", err
	}
	for _, r := range recs {
		if s := r.Services[service]; r.Project == project && s != nil && s.Status.Produced() {
			return s.Image, r.Engine, nil
		}
	}
	return "", "", usagef("no run of %s has built %s yet (run slipway build %s)", project, service, service)
}

func orDot(p string) string {
	if p == "" {
		return "."
	}
	return p
}

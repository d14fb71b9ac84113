// Package resolve says which images a command means: a service name means
// the image the newest run of the project built for it.
package resolve

import (
	"maps"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/errs"
	"github.com/slipway-dev/slipway/pkg/config"
	"github.com/slipway-dev/slipway/pkg/run"
)

// Resolved is what Resolve found: image references, the config's
// default Kind cluster, and the engine that built the images named by
// service (from the run record), "" when none was named that way.
type Resolved struct {
	Refs    []string
	Cluster string
	Engine  string
}

// Resolve turns service names into the image the newest run of the project
// (in stateDir) built for each; arguments with ':' or '/' are image
// references already. It also says which engine holds the images — a run
// that built with Podman left them in Podman — and the config's default
// Kind cluster.
func Resolve(configPath, stateDir string, args []string) (*Resolved, error) {
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
				return nil, errs.Usage(err)
			}
			cfg = c
		}
		if cfg.Services[a] == nil {
			return nil, errs.Usagef("unknown service %q", a)
		}
		ref, eng, err := latestBuilt(stateDir, cfg.Project, a)
		if err != nil {
			return nil, err
		}
		if out.Engine != "" && eng != out.Engine {
			return nil, errs.Usagef("the newest builds of these services are in different engines (%s and %s): load them separately", out.Engine, eng)
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
	return "", "", errs.Usagef("no run of %s has built %s yet (run slipway build %s)", project, service, service)
}

// NewestRunImages lists the images the newest run of the project produced.
func NewestRunImages(configPath, stateDir string) ([]string, error) {
	cfg, err := config.Load(orDot(configPath))
	if err != nil {
		return nil, errs.Usage(err)
	}
	recs, err := run.Records(stateDir)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.Project != cfg.Project {
			continue
		}
		var out []string
		for _, s := range slices.Sorted(maps.Keys(r.Services)) {
			if r.Services[s].Status.Produced() {
				out = append(out, r.Services[s].Image)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	return nil, errs.Usagef("no run of %s has produced images to export", cfg.Project)
}

func orDot(p string) string {
	if p == "" {
		return "."
	}
	return p
}

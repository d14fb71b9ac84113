// Package plan turns slipway.yaml and a build's options into a Plan: the
// services to build, each one's image reference (a generated tag claimed
// against every other live run and the engine, or a fixed tag that may not
// overwrite somebody else's image), the engine, and the cluster to load.
// Every error here is a usage error: nothing has been built when it fails.
package plan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"

	"github.com/slipway-dev/slipway/internal/clusters"
	"github.com/slipway-dev/slipway/internal/errs"
	"github.com/slipway-dev/slipway/internal/labels"
	"github.com/slipway-dev/slipway/pkg/config"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/inputs"
	"github.com/slipway-dev/slipway/pkg/kind"
	"github.com/slipway-dev/slipway/pkg/run"
	"github.com/slipway-dev/slipway/pkg/tag"
)

// Ref is an image reference split into its name and tag.
type Ref struct {
	Name string
	Tag  string
}

func (r Ref) String() string { return r.Name + ":" + r.Tag }

// Plan is everything checked before a run starts: what to build, under
// which names, with which engine, and where it goes.
type Plan struct {
	Cfg      *config.Config
	Services []string
	// Eng is the image store the rules ask (a fake in unit tests); Engine
	// is the detected engine itself, for building.
	Eng      engine.Client
	Engine   *engine.Engine
	Git      tag.Git
	User     string
	Source   string
	FixedTag string // from --tag; "" means use the template
	ReuseTag string
	Registry string
	// Push sends each image to its registry; Platforms builds for several
	// platforms at once (pushed, since the engine holds one).
	Push      bool
	Platforms []string
	Builder   string
	NoCache   bool
	Refs      map[string]Ref
	Cluster   *kind.Cluster // where to load, if anywhere
	// AwaitCluster is where to load when the cluster may not exist yet
	// (--kind-wait): loads wait for it, builds do not.
	AwaitCluster *clusters.Awaited
	// Hasher walks and hashes build contexts once per run: the check for
	// links out of the repository and the input digests share its walks.
	Hasher *inputs.Hasher
}

// Input is what a plan is made from: the build options that say what to
// build and where, as values (the CLI reads the environment, not this).
type Input struct {
	Config    string
	Services  []string
	Tag       string
	ReuseTag  string
	Engine    string
	Registry  string
	Push      bool
	Platforms []string
	Builder   string
	Shard     string
	NoCache   bool
	Cleanup   bool
	Kind      *clusters.KindOptions
	// Env, if set, is the engine, cluster and Git state an earlier plan
	// found, taken as they are instead of found again.
	Env *Env
	// Hasher, if set, is used instead of a new one, so that its walks of
	// the build contexts (the caller's digests of this moment) are reused.
	Hasher *inputs.Hasher
}

// Env is what Prepare finds outside the config. A caller that builds again
// and again (a watch) finds it once: a cluster lookup asks each provider's
// CLI, which takes seconds on a loaded machine.
type Env struct {
	Engine  *engine.Engine
	Cluster *kind.Cluster // nil: not looked for
	Git     tag.Git
}

// Env returns what p found, for Input.Env.
func (p *Plan) Env() *Env {
	g := p.Git
	g.Marker = nil // the config's, set again by each plan
	return &Env{Engine: p.Engine, Cluster: p.Cluster, Git: g}
}

// Prepare validates every input and reaches the engine; all its errors are
// usage errors, so nothing has been built when it fails.
func Prepare(ctx context.Context, o Input, needEngine bool) (*Plan, error) {
	cfgPath := o.Config
	if cfgPath == "" {
		cfgPath = "."
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, errs.Usage(err)
	}
	services, err := cfg.Select(o.Services...)
	if err != nil {
		return nil, errs.Usage(err)
	}
	fixed := o.Tag
	if fixed != "" {
		if err := tag.Validate(fixed); err != nil {
			return nil, errs.Usagef("--tag: %w", err)
		}
	}
	reuse := o.ReuseTag
	if reuse != "" {
		if err := tag.Validate(reuse); err != nil {
			return nil, errs.Usagef("--reuse: %w", err)
		}
	}
	if fixed == "" {
		if err := tag.CheckTemplate(cfg.Tag); err != nil {
			return nil, errs.Usage(&config.Error{Path: cfg.Path, Msg: err.Error()})
		}
	}
	p := &Plan{Cfg: cfg, Registry: cmp.Or(o.Registry, cfg.Registry), Push: o.Push, Builder: o.Builder,
		Platforms: o.Platforms, Services: services, User: tag.CurrentUser(), FixedTag: fixed, ReuseTag: reuse, NoCache: o.NoCache, Source: cfg.Dir}
	if o.Shard != "" {
		i, n, err := config.ParseShard(o.Shard)
		if err != nil {
			return nil, errs.Usage(err)
		}
		// An empty part (more jobs than units) builds nothing and succeeds,
		// so a CI matrix wider than the repository still passes.
		p.Services = cfg.Shard(services, i, n)
	}
	for _, s := range p.Services {
		if _, err := p.ImageName(s); err != nil {
			return nil, errs.Usage(err)
		}
	}
	if len(p.Platforms) > 1 && !p.Push {
		return nil, errs.Usagef("building for %d platforms needs --push: the local engine holds one platform per image", len(p.Platforms))
	}
	p.Hasher = o.Hasher
	if p.Hasher == nil {
		p.Hasher = inputs.NewHasher()
	}
	if needEngine && !cfg.AllowOutsideRepo {
		if err := p.checkLinks(); err != nil {
			return nil, err
		}
	}
	if needEngine && o.Env != nil && o.Env.Engine != nil {
		p.Eng, p.Engine = o.Env.Engine, o.Env.Engine
	} else if needEngine {
		eng, err := engine.Detect(ctx, o.Engine)
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, errs.Usage(err)
		}
		p.Eng, p.Engine = eng, eng
		eng.DetectBuildx(ctx)
		if err := p.checkBuilder(ctx); err != nil {
			return nil, err
		}
	}
	if o.Cleanup && o.Kind == nil && !o.Push {
		return nil, errs.Usagef("--cleanup removes the local copy once an image is in Kind or pushed: it needs --kind or --push")
	}
	switch {
	case o.Kind != nil && o.Env != nil && o.Env.Cluster != nil:
		p.Cluster = o.Env.Cluster
	case o.Kind != nil && o.Kind.Wait > 0:
		if p.AwaitCluster, err = clusters.Await(*o.Kind, cfg.Kind.Cluster); err != nil {
			return nil, err
		}
	case o.Kind != nil:
		if p.Cluster, err = clusters.Find(ctx, *o.Kind, cfg.Kind.Cluster); err != nil {
			return nil, err
		}
	}
	if o.Env != nil {
		p.Git = o.Env.Git
	} else {
		p.Git = tag.ReadGit(ctx, cfg.Dir)
	}
	if cfg.DirtyMarker != "" {
		p.Git.Marker = &cfg.DirtyMarker
	}
	return p, nil
}

// platform is the platform service svc is built for: --platform wins over
// the config. The input digest must hash exactly this, or an image built
// for one platform would be reused for another.
func (p *Plan) Platform(svc *config.Service) string {
	return cmp.Or(strings.Join(p.Platforms, ","), svc.Platform)
}

// pushOnly reports builds that go straight to the registry: several
// platforms, which the local engine cannot hold.
func (p *Plan) PushOnly() bool { return p.Push && len(p.Platforms) > 1 }

// insecure reports whether ref's registry may be reached over plain HTTP:
// loopback always, others only when the config says so.
func (p *Plan) Insecure(ref string) bool {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return false
	}
	return Loopback(ref) || slices.Contains(p.Cfg.InsecureRegistries, reference.Domain(n))
}

// Loopback reports whether ref's registry is on this host's loopback, which
// a builder in a container or a pod cannot reach.
func Loopback(ref string) bool {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return false
	}
	h := reference.Domain(n)
	if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	return h == "localhost" || strings.HasPrefix(h, "127.") || h == "[::1]"
}

// checkBuilder makes sure the builder exists and can build every platform
// asked for, before anything starts.
func (p *Plan) checkBuilder(ctx context.Context) error {
	if p.Builder == "" && len(p.Platforms) == 0 {
		return nil
	}
	if !p.Engine.Buildx {
		return errs.Usagef("--builder and --platform need the docker buildx plugin")
	}
	have, err := p.Engine.BuilderPlatforms(ctx, p.Builder)
	if err != nil {
		return errs.Usage(err)
	}
	name := cmp.Or(p.Builder, "default")
	for _, want := range p.Platforms {
		if slices.Contains(have, want) {
			continue
		}
		// A foreign platform is fine for a Dockerfile that only copies and
		// cross-compiles; a RUN step on it would need emulation.
		for _, s := range p.Services {
			svc := p.Cfg.Services[s]
			steps, err := inputs.TargetRunSteps(p.Cfg.DockerfilePath(svc), svc.Target)
			if err != nil {
				return errs.Usage(err)
			}
			if len(steps) > 0 {
				return errs.Usagef("builder %s cannot build %s for %s: RUN at %s %s needs emulation (it builds for %s); cross-compile in a stage FROM --platform=$BUILDPLATFORM",
					name, s, want, svc.Dockerfile, strings.Join(steps, ", "), strings.Join(have, ", "))
			}
		}
	}
	return nil
}

// imageName expands the config's image template for service s.
func (p *Plan) ImageName(s string) (string, error) { return p.Cfg.ImageName(s, p.Registry) }

// Tags returns the references a build with o would produce, without
// reserving them or asking the engine (a build may still add a suffix to a
// generated tag that is taken by then).
func Tags(ctx context.Context, o Input) (map[string]string, error) {
	p, err := Prepare(ctx, o, false)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := map[string]string{}
	for _, s := range p.Services {
		name, _ := p.ImageName(s)
		t := p.FixedTag
		if t == "" {
			if t, err = p.GeneratedTag(s, now); err != nil {
				return nil, err
			}
		}
		out[s] = Ref{name, t}.String()
	}
	return out, nil
}

// MaxSuffix bounds the search for a free generated tag.
const MaxSuffix = 1000

// assignRefs gives each service its reference. A generated tag that this or
// another run already holds gets a numeric suffix; a fixed tag that names an
// image somebody else made is refused.
func (p *Plan) AssignRefs(ctx context.Context, stateDir, runID string, now time.Time) error {
	p.Refs = map[string]Ref{}
	// suffix is how far each service's search for a free tag has got.
	suffix := map[string]int{}
	pending := slices.Clone(p.Services)
	for len(pending) > 0 {
		var claimed []string
		claims := map[string]Ref{}
		for _, s := range pending {
			name, _ := p.ImageName(s)
			if p.FixedTag != "" {
				ref := Ref{name, p.FixedTag}
				if err := p.checkOverwrite(ctx, s, ref); err != nil {
					return err
				}
				p.Refs[s] = ref
				continue
			}
			base, err := p.GeneratedTag(s, now)
			if err != nil {
				return err
			}
			for suffix[s]++; ; suffix[s]++ {
				if suffix[s] > MaxSuffix {
					return fmt.Errorf("no free tag for %s after %d tries from %s", s, MaxSuffix, base)
				}
				t := base
				if suffix[s] > 1 {
					t = tag.Fit(base + "-" + strconv.Itoa(suffix[s]))
				}
				ref := Ref{name, t}
				ok, err := run.Reserve(stateDir, ref.String(), runID)
				if err != nil {
					return err
				}
				if ok {
					claims[s] = ref
					claimed = append(claimed, ref.String())
					break
				}
			}
		}
		if len(claimed) == 0 {
			return nil
		}
		// One engine call checks every claimed tag is not taken there.
		taken, err := p.Eng.InspectSome(ctx, claimed...)
		if err != nil {
			return fmt.Errorf("checking tags: %w", err)
		}
		pending = pending[:0]
		for s, ref := range claims {
			if im := taken[ref.String()]; im != nil && !(p.stableTag() && p.madeByUs(im, s)) {
				pending = append(pending, s)
			} else {
				p.Refs[s] = ref
			}
		}
	}
	return nil
}

// stableTag reports a tag template meant to give the same tag run after run
// (no .Unix or .Random): like a fixed tag, it moves to the new image when the
// old one is this user's own; a per-run template gets a suffix instead, so
// every run keeps its own name.
func (p *Plan) stableTag() bool {
	t := cmp.Or(p.Cfg.Tag, tag.DefaultTemplate)
	return !strings.Contains(t, ".Unix") && !strings.Contains(t, ".Random")
}

// madeByUs reports whether im is this user's slipway image of service s in
// this project: the only images a tag of ours may be moved away from.
func (p *Plan) madeByUs(im *engine.Image, s string) bool {
	return im.Labels[labels.User] == p.User && im.Labels[labels.Service] == s && im.Labels[labels.Project] == p.Cfg.Project
}

// generatedTag expands the config's tag template for service s.
func (p *Plan) GeneratedTag(s string, now time.Time) (string, error) {
	v := tag.NewVars(s, p.Git, now)
	v.Project = p.Cfg.Project
	t, err := tag.Render(p.Cfg.Tag, v)
	if err != nil {
		return "", errs.Usage(err)
	}
	return t, nil
}

// checkOverwrite refuses a fixed tag that already names an image this user's
// slipway did not make for this service.
func (p *Plan) checkOverwrite(ctx context.Context, s string, ref Ref) error {
	img, err := p.Eng.Inspect(ctx, ref.String())
	if errors.Is(err, engine.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking %s: %w", ref, err)
	}
	if p.madeByUs(img, s) {
		return nil
	}
	owner := img.Labels[labels.User]
	if owner == "" {
		owner = "not slipway"
	}
	return errs.Usagef("tag %s already names image %s (made by %s); refusing to overwrite it — choose another tag", ref, shortID(img.ID), owner)
}

func shortID(id string) string {
	if len(id) > 19 {
		return id[:19]
	}
	return id
}

// checkLinks refuses a build context that holds a symlink out of the
// repository: BuildKit would copy a dangling link, not the files it names,
// and a user who wants files from outside says so (allow_outside_repo).
func (p *Plan) checkLinks() error {
	for _, s := range p.Services {
		svc := p.Cfg.Services[s]
		esc, err := p.Hasher.EscapingLinks(p.Cfg.ContextDir(svc), p.Cfg.DockerfilePath(svc), p.Cfg.Dir)
		if err != nil {
			return errs.Usage(&config.Error{Path: p.Cfg.Path, Line: svc.Line, Msg: fmt.Sprintf("service %s: %v", s, err)})
		}
		if len(esc) > 0 {
			return errs.Usage(&config.Error{Path: p.Cfg.Path, Line: svc.Line, Msg: fmt.Sprintf(
				"service %s: build context holds symlink %s -> %s, outside the repository (the image would get a dangling link, not its files); remove it, exclude it in .dockerignore, or set allow_outside_repo: true",
				s, esc[0].Link, esc[0].Target)})
		}
	}
	return nil
}

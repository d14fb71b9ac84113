package slipway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/distribution/reference"
	"golang.org/x/sync/errgroup"

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

// plan is everything checked before a run starts.
type plan struct {
	cfg      *config.Config
	services []string
	// eng is the image store the rules ask (a fake in unit tests);
	// engine is the detected engine itself, for building.
	eng      engine.Client
	engine   *engine.Engine
	git      tag.Git
	user     string
	source   string
	fixedTag string // from --tag or IMAGE_TAG; "" means use the template
	reuseTag string
	registry string
	// push sends each image to its registry; platforms builds for several
	// platforms at once (pushed, since the engine holds one).
	push      bool
	platforms []string
	builder   string
	noCache   bool
	refs      map[string]Ref
	cluster   *kind.Cluster // where to load, if anywhere
	loads     errgroup.Group
}

// prepare validates every input and reaches the engine; all its errors are
// usage errors, so nothing has been built when it fails.
func prepare(ctx context.Context, o Options, needEngine bool) (*plan, error) {
	cfgPath := o.Config
	if cfgPath == "" {
		cfgPath = "."
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, usage(err)
	}
	services, err := cfg.Select(o.Services...)
	if err != nil {
		return nil, usage(err)
	}
	fixed := o.Tag
	if fixed == "" {
		if env := os.Getenv("IMAGE_TAG"); env != "" {
			if err := tag.Validate(env); err != nil {
				return nil, usagef("IMAGE_TAG: %w", err)
			}
			fixed = env
		}
	} else if err := tag.Validate(fixed); err != nil {
		return nil, usagef("--tag: %w", err)
	}
	reuse := o.ReuseTag
	if reuse == "" {
		reuse = os.Getenv("SLIPWAY_REUSE_TAG")
	}
	if reuse != "" {
		if err := tag.Validate(reuse); err != nil {
			return nil, usagef("--reuse: %w", err)
		}
	}
	if fixed == "" {
		if err := tag.CheckTemplate(cfg.Tag); err != nil {
			return nil, usage(&config.Error{Path: cfg.Path, Msg: err.Error()})
		}
	}
	p := &plan{cfg: cfg, registry: firstNonEmpty(o.Registry, cfg.Registry), push: o.Push, builder: o.Builder,
		platforms: o.Platforms, services: services, user: tag.CurrentUser(), fixedTag: fixed, reuseTag: reuse, noCache: o.NoCache, source: cfg.Dir}
	if o.Shard != "" {
		i, n, err := config.ParseShard(o.Shard)
		if err != nil {
			return nil, usage(err)
		}
		// An empty part (more jobs than units) builds nothing and succeeds,
		// so a CI matrix wider than the repository still passes.
		p.services = cfg.Shard(services, i, n)
	}
	for _, s := range p.services {
		if _, err := p.imageName(s); err != nil {
			return nil, usage(err)
		}
	}
	if len(p.platforms) > 1 && !p.push {
		return nil, usagef("building for %d platforms needs --push: the local engine holds one platform per image", len(p.platforms))
	}
	if needEngine {
		eng, err := engine.Detect(ctx, o.Engine)
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, usage(err)
		}
		p.eng, p.engine = eng, eng
		eng.DetectBuildx(ctx)
		if err := p.checkBuilder(ctx); err != nil {
			return nil, err
		}
	}
	if o.Cleanup && o.Kind == nil && !o.Push {
		return nil, usagef("--cleanup removes the local copy once an image is in Kind or pushed: it needs --kind or --push")
	}
	if o.Kind != nil {
		if p.cluster, err = findCluster(ctx, *o.Kind, cfg.Kind.Cluster); err != nil {
			return nil, err
		}
	}
	p.git = tag.ReadGit(ctx, cfg.Dir)
	if cfg.DirtyMarker != "" {
		p.git.Marker = &cfg.DirtyMarker
	}
	return p, nil
}

// platform is the platform service svc is built for: --platform wins over
// the config. The input digest must hash exactly this, or an image built
// for one platform would be reused for another.
func (p *plan) platform(svc *config.Service) string {
	return firstNonEmpty(strings.Join(p.platforms, ","), svc.Platform)
}

// pushOnly reports builds that go straight to the registry: several
// platforms, which the local engine cannot hold.
func (p *plan) pushOnly() bool { return p.push && len(p.platforms) > 1 }

// insecure reports whether ref's registry may be reached over plain HTTP:
// loopback always, others only when the config says so.
func (p *plan) insecure(ref string) bool {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return false
	}
	host := reference.Domain(n)
	h := host
	if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	if h == "localhost" || strings.HasPrefix(h, "127.") || h == "[::1]" {
		return true
	}
	return slices.Contains(p.cfg.InsecureRegistries, host)
}

// checkBuilder makes sure the builder exists and can build every platform
// asked for, before anything starts.
func (p *plan) checkBuilder(ctx context.Context) error {
	if p.builder == "" && len(p.platforms) == 0 {
		return nil
	}
	if !p.engine.Buildx {
		return usagef("--builder and --platform need the docker buildx plugin")
	}
	have, err := p.engine.BuilderPlatforms(ctx, p.builder)
	if err != nil {
		return usage(err)
	}
	name := firstNonEmpty(p.builder, "default")
	for _, want := range p.platforms {
		if slices.Contains(have, want) {
			continue
		}
		// A foreign platform is fine for a Dockerfile that only copies and
		// cross-compiles; a RUN step on it would need emulation.
		for _, s := range p.services {
			svc := p.cfg.Services[s]
			steps, err := inputs.TargetRunSteps(p.cfg.DockerfilePath(svc), svc.Target)
			if err != nil {
				return usage(err)
			}
			if len(steps) > 0 {
				return usagef("builder %s cannot build %s for %s: RUN at %s %s needs emulation (it builds for %s); cross-compile in a stage FROM --platform=$BUILDPLATFORM",
					name, s, want, svc.Dockerfile, strings.Join(steps, ", "), strings.Join(have, ", "))
			}
		}
	}
	return nil
}

// imageName expands the config's image template for service s.
func (p *plan) imageName(s string) (string, error) {
	tmpl := p.cfg.Image
	if tmpl == "" {
		tmpl = config.DefaultImage
	}
	t, err := template.New("image").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", &config.Error{Path: p.cfg.Path, Msg: fmt.Sprintf("image template: %v", err)}
	}
	var b bytes.Buffer
	if err := t.Execute(&b, map[string]string{"Project": p.cfg.Project, "Service": s}); err != nil {
		return "", &config.Error{Path: p.cfg.Path, Msg: fmt.Sprintf("image template: %v", err)}
	}
	name := b.String()
	if p.registry != "" {
		// --registry moves every image to that registry, keeping its path.
		if n, err := reference.ParseNormalizedNamed(name); err == nil {
			name = p.registry + "/" + reference.Path(n)
		}
	}
	if _, err := reference.ParseNamed(name); err != nil {
		return "", &config.Error{Path: p.cfg.Path, Msg: fmt.Sprintf("image name %q for service %s is not a valid image name: %v", name, s, err)}
	}
	return name, nil
}

// Tags returns the references a build with o would produce, without
// reserving them or asking the engine (a build may still add a suffix to a
// generated tag that is taken by then).
func Tags(ctx context.Context, o Options) (map[string]string, error) {
	p, err := prepare(ctx, o, false)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := map[string]string{}
	for _, s := range p.services {
		name, _ := p.imageName(s)
		t := p.fixedTag
		if t == "" {
			if t, err = p.generatedTag(s, now); err != nil {
				return nil, err
			}
		}
		out[s] = Ref{name, t}.String()
	}
	return out, nil
}

// maxSuffix bounds the search for a free generated tag.
const maxSuffix = 1000

// assignRefs gives each service its reference. A generated tag that this or
// another run already holds gets a numeric suffix; a fixed tag that names an
// image somebody else made is refused.
func (p *plan) assignRefs(ctx context.Context, stateDir, runID string, now time.Time) error {
	p.refs = map[string]Ref{}
	// suffix is how far each service's search for a free tag has got.
	suffix := map[string]int{}
	pending := slices.Clone(p.services)
	for len(pending) > 0 {
		var claimed []string
		claims := map[string]Ref{}
		for _, s := range pending {
			name, _ := p.imageName(s)
			if p.fixedTag != "" {
				ref := Ref{name, p.fixedTag}
				if err := p.checkOverwrite(ctx, s, ref); err != nil {
					return err
				}
				p.refs[s] = ref
				continue
			}
			base, err := p.generatedTag(s, now)
			if err != nil {
				return err
			}
			for suffix[s]++; ; suffix[s]++ {
				if suffix[s] > maxSuffix {
					return fmt.Errorf("no free tag for %s after %d tries from %s", s, maxSuffix, base)
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
		taken, err := p.eng.InspectSome(ctx, claimed...)
		if err != nil {
			return fmt.Errorf("checking tags: %w", err)
		}
		pending = pending[:0]
		for s, ref := range claims {
			if im := taken[ref.String()]; im != nil && !(p.stableTag() && p.madeByUs(im, s)) {
				pending = append(pending, s)
			} else {
				p.refs[s] = ref
			}
		}
	}
	return nil
}

// stableTag reports a tag template meant to give the same tag run after run
// (no .Unix or .Random): like a fixed tag, it moves to the new image when the
// old one is this user's own; a per-run template gets a suffix instead, so
// every run keeps its own name.
func (p *plan) stableTag() bool {
	t := firstNonEmpty(p.cfg.Tag, tag.DefaultTemplate)
	return !strings.Contains(t, ".Unix") && !strings.Contains(t, ".Random")
}

// madeByUs reports whether im is this user's slipway image of service s in
// this project: the only images a tag of ours may be moved away from.
func (p *plan) madeByUs(im *engine.Image, s string) bool {
	return im.Labels[LabelUser] == p.user && im.Labels[LabelService] == s && im.Labels[LabelProject] == p.cfg.Project
}

// generatedTag expands the config's tag template for service s.
func (p *plan) generatedTag(s string, now time.Time) (string, error) {
	v := tag.NewVars(s, p.git, now)
	v.Project = p.cfg.Project
	t, err := tag.Render(p.cfg.Tag, v)
	if err != nil {
		return "", usage(err)
	}
	return t, nil
}

// checkOverwrite refuses a fixed tag that already names an image this user's
// slipway did not make for this service.
func (p *plan) checkOverwrite(ctx context.Context, s string, ref Ref) error {
	img, err := p.eng.Inspect(ctx, ref.String())
	if errors.Is(err, engine.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking %s: %w", ref, err)
	}
	if p.madeByUs(img, s) {
		return nil
	}
	owner := img.Labels[LabelUser]
	if owner == "" {
		owner = "not slipway"
	}
	return usagef("tag %s already names image %s (made by %s); refusing to overwrite it — choose another tag", ref, shortID(img.ID), owner)
}

func shortID(id string) string {
	if len(id) > 19 {
		return id[:19]
	}
	return id
}

func openLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening build log: %w", err)
	}
	return f, nil
}

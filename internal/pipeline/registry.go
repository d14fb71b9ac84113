package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/distribution/reference"

	"github.com/slipway-dev/slipway/internal/errs"
	"github.com/slipway-dev/slipway/internal/labels"
	"github.com/slipway-dev/slipway/internal/plan"
	"github.com/slipway-dev/slipway/pkg/config"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/progress"
	"github.com/slipway-dev/slipway/pkg/registry"
	"github.com/slipway-dev/slipway/pkg/run"
)

// Reuse across machines and the registry build cache.
//
// With a registry in effect (--registry or the config's registry:), every
// image a --push run delivers is also tagged there as inputs-HEX, HEX being
// its input digest (registry.DigestTag). Before building, any run — on any
// machine — asks the registry for that tag, and reuses the image only when
// its config carries the same dev.slipway.inputs label (and service label):
// a tag alone is never trusted. Reading needs only a registry; writing (the
// digest tag, the default cache export) needs --push, as every other write
// to a registry does.

// BuildcacheTag is the tag of a service's default registry build cache.
const BuildcacheTag = "buildcache"

// registryReuse says whether p reads reusable images from a registry.
func registryReuse(p *plan.Plan) bool {
	// Several platforms make an index: no single config to check.
	return p.Registry != "" && !p.PushOnly()
}

// registryClient is the runner's registry, the real one unless a test set one.
// Services look up concurrently: the client is made once.
func (rn *runner) registryClient() registry.Client {
	rn.registryOnce.Do(func() {
		if rn.registry == nil {
			p := rn.plan
			rn.registry = registry.Remote{Insecure: func(host string) bool { return p.Insecure(host + "/x") }}
		}
	})
	return rn.registry
}

// reuseFromRegistry looks for img's input digest in the registry and, when
// an image there carries the same inputs, makes it img's: re-tagged in the
// registry with --push (only a manifest is written), and pulled into the
// engine for the engine itself and Kind. It reports whether img was reused;
// a registry it cannot ask only costs a build, and says so in the log.
func (rn *runner) reuseFromRegistry(ctx context.Context, img *Image) (bool, error) {
	p, s := rn.plan, img.Service
	name, err := p.ImageName(s)
	if err != nil {
		return false, nil
	}
	note := func(format string, args ...any) {
		rn.rep.Event(progress.Event{Time: time.Now(), Service: s, State: progress.Log, Line: fmt.Sprintf(format, args...)})
	}
	reg := rn.registryClient()
	digestRef := name + ":" + registry.DigestTag(img.Inputs)
	start := time.Now()
	found, err := reg.Inspect(ctx, digestRef)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return false, nil
	case err != nil:
		if ctx.Err() != nil {
			return false, context.Cause(ctx)
		}
		note("registry reuse: not looked up: %v", err)
		return false, nil
	case found.Index:
		note("registry reuse: %s is a multi-platform index; building", digestRef)
		return false, nil
	case found.Labels[labels.Inputs] != img.Inputs || found.Labels[labels.Service] != s:
		// Somebody pushed something else under the tag: build, and the
		// push of this build puts the right image there.
		note("registry reuse: %s carries inputs %q of service %q, not %s of %s; not trusted, building",
			digestRef, found.Labels[labels.Inputs], found.Labels[labels.Service], img.Inputs, s)
		return false, nil
	}
	exact := name + "@" + found.Digest
	if p.Push {
		if err := reg.Tag(ctx, exact, img.Tag); err != nil {
			note("registry reuse: %v; building", err)
			return false, nil
		}
		img.Pushed = found.Digest
	}
	// The engine gets its copy for itself and for Kind; a pull of an image
	// whose layers the engine has moves only the manifest and config.
	logw := rn.deliveryLog(img)
	defer logw.Close()
	if err := p.Eng.Pull(ctx, exact, "", logw); err != nil {
		if ctx.Err() != nil {
			return false, context.Cause(ctx)
		}
		note("registry reuse: %v; building", err)
		img.Pushed = ""
		return false, nil
	}
	if err := p.Eng.Tag(ctx, exact, img.Ref); err != nil {
		note("registry reuse: tagging %s: %v; building", img.Ref, err)
		img.Pushed = ""
		return false, nil
	}
	// What the engine now has must be what the registry showed.
	got, err := p.Eng.Inspect(ctx, img.Ref)
	if err != nil || got.ID != found.ID || got.Labels[labels.Inputs] != img.Inputs {
		note("registry reuse: the pulled image is not the one the registry described; building")
		img.Pushed = ""
		return false, nil
	}
	img.ID, img.Status, img.Started, img.Duration, img.Tagged = got.ID, run.ReusedRegistry, start, time.Since(start), time.Now()
	rn.rec.save(img)
	rn.rep.Event(progress.Event{Time: time.Now(), Service: s, State: progress.ReusedRegistry, Ref: img.Ref})
	rn.load(img)
	return true, nil
}

// shareInRegistry tags a pushed image by its input digest (and, where the
// default cache is the inline one, as the service's build cache), so that
// other machines find it. Failing costs them a build, never this run.
func (rn *runner) shareInRegistry(ctx context.Context, img *Image) {
	p := rn.plan
	if !registryReuse(p) || !p.Push || img.Pushed == "" || img.Inputs == "" || img.Status == run.ReusedRegistry {
		return
	}
	name, err := p.ImageName(img.Service)
	if err != nil {
		return
	}
	tags := []string{registry.DigestTag(img.Inputs)}
	if rn.defaultInlineCache(img.Service) {
		tags = append(tags, BuildcacheTag)
	}
	exact := name + "@" + img.Pushed
	for _, t := range tags {
		if err := rn.registryClient().Tag(ctx, exact, t); err != nil {
			rn.rep.Event(progress.Event{Time: time.Now(), Service: img.Service, State: progress.Log, Line: "registry reuse: " + err.Error()})
		}
	}
}

// defaultInlineCache reports whether service s exports the default inline
// cache: its image, tagged buildcache, is then the cache others import.
func (rn *runner) defaultInlineCache(s string) bool {
	_, to, err := rn.cacheSpecs(s)
	return err == nil && len(to) == 1 && to[0].Type == config.CacheInline && rn.cacheToDefault(s)
}

// cacheToDefault reports whether s's cache exports are slipway's default.
func (rn *runner) cacheToDefault(s string) bool {
	if len(rn.o.CacheTo) > 0 {
		return false
	}
	_, _, _, toSet, err := rn.plan.Cfg.Cache(s)
	return err == nil && !toSet
}

// cacheSpecs are service s's cache imports and exports: --cache-from and
// --cache-to, else the config's, else, with a registry, the default
// (import REGISTRY/IMAGE:buildcache; with --push export to it, mode=max,
// or inline cache where a registry export cannot work).
func (rn *runner) cacheSpecs(s string) (from, to []engine.Cache, err error) {
	p := rn.plan
	cfgFrom, cfgTo, fromSet, toSet, err := p.Cfg.Cache(s)
	if err != nil {
		return nil, nil, err
	}
	if len(rn.o.CacheFrom) > 0 {
		if cfgFrom, err = parseCacheFlags(rn.o.CacheFrom, false); err != nil {
			return nil, nil, err
		}
		fromSet = true
	}
	if len(rn.o.CacheTo) > 0 {
		if cfgTo, err = parseCacheFlags(rn.o.CacheTo, true); err != nil {
			return nil, nil, err
		}
		toSet = true
	}
	cacheRef := ""
	if p.Registry != "" {
		if name, err := p.ImageName(s); err == nil {
			cacheRef = name + ":" + BuildcacheTag
		}
	}
	insecure := cacheRef != "" && p.Insecure(cacheRef)
	if !fromSet && cacheRef != "" {
		cfgFrom = []config.CacheSpec{{Type: config.CacheRegistry, Attrs: map[string]string{"ref": cacheRef}}}
	}
	if !toSet && cacheRef != "" && p.Push && !p.PushOnly() {
		// Inline on the engine's own BuildKit, which exports nothing else,
		// and on a named builder when the registry is a loopback one: the
		// builder runs in a container or a pod whose loopback is not the
		// host's, so a registry export fails the build, while inline cache
		// travels in the image the engine pushes.
		if p.Builder == "" || plan.Loopback(cacheRef) {
			cfgTo = []config.CacheSpec{{Type: config.CacheInline}}
		} else {
			cfgTo = []config.CacheSpec{{Type: config.CacheRegistry, Attrs: map[string]string{"ref": cacheRef, "mode": "max"}}}
		}
	}
	conv := func(list []config.CacheSpec) []engine.Cache {
		var out []engine.Cache
		for _, c := range list {
			attrs := maps.Clone(c.Attrs)
			if c.Type == config.CacheRegistry && insecure && attrs["ref"] == cacheRef {
				// A loopback registry speaks plain HTTP.
				attrs["registry.insecure"] = "true"
			}
			out = append(out, engine.Cache{Type: c.Type, Attrs: attrs})
		}
		return out
	}
	if p.NoCache {
		// Every step runs again: nothing to import.
		cfgFrom = nil
	}
	return conv(cfgFrom), conv(cfgTo), nil
}

// parseCacheFlags reads --cache-from or --cache-to values.
func parseCacheFlags(list []string, export bool) ([]config.CacheSpec, error) {
	flag := "--cache-from"
	if export {
		flag = "--cache-to"
	}
	var out []config.CacheSpec
	for _, raw := range list {
		c, err := config.ParseCache(raw, export)
		if err == nil && c.Type == config.CacheRegistry {
			if _, rerr := reference.ParseNormalizedNamed(c.Attrs["ref"]); rerr != nil {
				err = fmt.Errorf("ref %q is not an image reference: %v", c.Attrs["ref"], rerr)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", flag, raw, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// checkCache refuses bad cache settings before anything is built.
func checkCache(p *plan.Plan, o Options) error {
	rn := &runner{plan: p, o: o}
	for _, s := range p.Services {
		if _, _, err := rn.cacheSpecs(s); err != nil {
			return errs.Usage(err)
		}
	}
	return nil
}

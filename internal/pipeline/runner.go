package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/labels"
	"github.com/slipway-dev/slipway/internal/plan"
	"github.com/slipway-dev/slipway/internal/publish"
	"github.com/slipway-dev/slipway/pkg/config"
	"github.com/slipway-dev/slipway/pkg/registry"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/slipway-dev/slipway/pkg/build"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/inputs"
	"github.com/slipway-dev/slipway/pkg/progress"
	"github.com/slipway-dev/slipway/pkg/run"
)

// runner is one Build call's shared state, for the per-service steps.
type runner struct {
	plan    *plan.Plan
	o       Options
	rec     *recorder // the one writer of the run record
	rep     progress.Reporter
	runID   string
	now     time.Time
	loadCtx context.Context // loads outlive their build task; they stop only with the caller
	builder build.Interface
	// publisher delivers each image (nil: nowhere); loads are the
	// deliveries under way, which Build waits for.
	publisher publish.Interface
	loads     errgroup.Group
	hasher    *inputs.Hasher

	// Engine answers shared by every service: base image IDs, and this
	// user's images of the project by service and input digest.
	resolved sync.Map // ref -> image ID, or "" when the engine lacks it
	// resolving makes services that start together and share a base
	// image wait for one engine call instead of each making its own.
	resolving singleflight.Group
	ownOnce   sync.Once
	own       map[string]string // service + "\x00" + inputs -> newest image ID
	ownErr    error
	// registry answers reuse across machines (registry.go); nil until
	// first needed, a fake in unit tests.
	registry     registry.Client
	registryOnce sync.Once
}

// resolve maps a base image reference to its ID, once per run.
func (rn *runner) resolve(ctx context.Context, ref string) (string, bool) {
	if id, ok := rn.resolved.Load(ref); ok {
		return id.(string), id.(string) != ""
	}
	v, _, _ := rn.resolving.Do(ref, func() (any, error) {
		if id, ok := rn.resolved.Load(ref); ok {
			return id, nil
		}
		id := ""
		if im, err := rn.plan.Eng.Inspect(ctx, ref); err == nil {
			id = im.ID
		}
		rn.resolved.Store(ref, id)
		return id, nil
	})
	id := v.(string)
	return id, id != ""
}

// ownImage returns this user's newest image of service s with these
// inputs; the engine is asked once per run for all of them.
func (rn *runner) ownImage(ctx context.Context, s, digest string) (string, bool) {
	rn.ownOnce.Do(func() {
		p := rn.plan
		imgs, err := p.Eng.Images(ctx, map[string]string{labels.User: p.User, labels.Project: p.Cfg.Project, labels.Inputs: ""})
		rn.own, rn.ownErr = map[string]string{}, err
		newest := map[string]time.Time{}
		for _, im := range imgs {
			k := im.Labels[labels.Service] + "\x00" + im.Labels[labels.Inputs]
			if im.Created.After(newest[k]) || rn.own[k] == "" {
				rn.own[k], newest[k] = im.ID, im.Created
			}
		}
	})
	id, ok := rn.own[s+"\x00"+digest]
	return id, ok && rn.ownErr == nil
}

// reuse computes img's input digest and, when this user already has an
// image of this service with the same inputs, gives it img's tag instead of
// building (unless NoCache). done reports that no build is needed.
func (rn *runner) reuse(ctx context.Context, img *Image, all map[string]*Image) (bool, error) {
	p, s := rn.plan, img.Service
	if p.ReuseTag != "" {
		name, _ := p.ImageName(s)
		ref := plan.Ref{Name: name, Tag: p.ReuseTag}
		if im, err := p.Eng.Inspect(ctx, ref.String()); err == nil {
			// The name is somebody's (another run's, another user's, CI's):
			// this run uses it but never removes it.
			img.Ref, img.Tag, img.Borrowed = ref.String(), ref.Tag, true
			rn.reused(img, im.ID, time.Now())
			return true, nil
		}
	}
	svc := p.Cfg.Services[s]
	// A dependency counts by its image ID: its tag is new every run.
	args := buildArgs(svc, func(d string) string { return all[d].ID })
	var secrets []string
	for _, sec := range svc.Secrets {
		secrets = append(secrets, sec.Identity())
	}
	digest, err := rn.hasher.Digest(ctx, inputs.Spec{
		Dockerfile: p.Cfg.DockerfilePath(svc), Context: p.Cfg.ContextDir(svc),
		Target: svc.Target, Platform: p.Platform(svc), Args: args,
		Contexts: p.Cfg.ContextSources(svc), Secrets: secrets,
		Resolve: rn.resolve,
	})
	if err != nil {
		// Not knowing the inputs only costs a build; say why, so a user who
		// wonders why nothing is reused can see it in the log.
		rn.rep.Event(progress.Event{Time: time.Now(), Service: s, State: progress.Log, Line: "not reusable: " + err.Error()})
		return false, nil
	}
	img.Inputs = digest
	if p.NoCache {
		return false, nil
	}
	// A remote builder sees the registry, not this engine, so the engine's
	// images say nothing about what it would build; the registry's do.
	id, ok := "", false
	if p.Builder == "" && !p.PushOnly() {
		id, ok = rn.ownImage(ctx, s, digest)
	}
	if !ok {
		if registryReuse(p) {
			return rn.reuseFromRegistry(ctx, img)
		}
		return false, nil
	}
	start := time.Now()
	if err := p.Eng.Tag(ctx, id, img.Ref); err != nil {
		return false, nil
	}
	rn.reused(img, id, start)
	return true, nil
}

// reused records img as an existing image under img.Ref, and loads it.
func (rn *runner) reused(img *Image, id string, start time.Time) {
	img.ID, img.Status, img.Started, img.Duration = id, run.Reused, start, time.Since(start)
	if !img.Borrowed {
		img.Tagged = time.Now()
	}
	rn.rec.save(img)
	rn.rep.Event(progress.Event{Time: time.Now(), Service: img.Service, State: progress.Reused, Ref: img.Ref})
	rn.load(img)
}

// build runs img's build and, with a cluster, starts its load. onStep, if
// set, hears the build's steps (the build slots watch them).
func (rn *runner) build(ctx context.Context, img *Image, all map[string]*Image, onStep func(build.Step)) error {
	o, rep := rn.o, rn.rep
	s := img.Service
	// No sink may fail a build: a full disk under the run folder or a
	// broken Options.Logs writer loses that copy of the log, not the image.
	sinks := []io.Writer{&progress.LineWriter{Service: s, Reporter: rep}, &img.timing.steps}
	if logf, err := openLog(img.Log); err == nil {
		defer logf.Close()
		sinks = append(sinks, logf)
	} else {
		rep.Event(progress.Event{Time: time.Now(), Service: s, State: progress.Log, Line: "no log file: " + err.Error()})
	}
	if o.Logs != nil {
		if w := o.Logs(s); w != nil {
			sinks = append(sinks, w)
		}
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, o.Timeout, fmt.Errorf("%s: build timed out after %s", s, o.Timeout))
		defer cancel()
	}
	start := time.Now()
	img.Started = start
	rep.Event(progress.Event{Time: start, Service: s, State: progress.Building, Ref: img.Ref})
	img.Status = run.Building
	rn.rec.save(img)
	spec := rn.spec(img, all)
	out, err := rn.builder.Build(ctx, build.Request{Service: s, Spec: spec, Log: build.NewSinks(sinks...), LogPath: img.Log, OnStep: onStep})
	img.Duration = time.Since(start)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && context.Cause(ctx) != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w (log: %s)", context.Cause(ctx), img.Log)
		}
		img.Err = err
		if ctx.Err() == nil || o.Timeout > 0 {
			rep.Event(progress.Event{Time: time.Now(), Service: s, State: progress.Failed, Error: err.Error()})
		}
		return err
	}
	img.ID, img.Tagged, img.Status = out.ID, time.Now(), run.Built
	rn.rec.save(img)
	rep.Event(progress.Event{Time: time.Now(), Service: s, State: progress.Built, Ref: img.Ref})
	if rn.plan.Push && !rn.plan.PushOnly() && rn.isDependency(s) {
		// A dependent may build on a remote builder that pulls this image
		// from the registry: push before the dependents start.
		if err := rn.push(ctx, img); err != nil {
			return err
		}
	}
	rn.load(img)
	return nil
}

// isDependency reports whether another selected service builds FROM s.
func (rn *runner) isDependency(s string) bool {
	for _, other := range rn.plan.Services {
		if slices.Contains(rn.plan.Cfg.Services[other].DependsOn, s) {
			return true
		}
	}
	return false
}

// push sends img to its registry now (a dependency, before its dependents
// build); deliver will not push it again.
func (rn *runner) push(ctx context.Context, img *Image) error {
	return rn.publish(ctx, img, publish.Registry{Eng: rn.plan.Eng})
}

// publishers are where every image goes once built: its registry and Kind
// cluster, as asked; nil when nowhere.
func publishers(p *plan.Plan) publish.Interface {
	var m publish.Multi
	if p.Push && !p.PushOnly() {
		m = append(m, publish.Registry{Eng: p.Eng})
	}
	if p.Cluster != nil || p.AwaitCluster != nil {
		m = append(m, publish.Kind{Cluster: p.Cluster, Await: p.AwaitCluster, Eng: p.Eng, FromRegistry: p.PushOnly()})
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// load delivers img while the other builds go on; Build waits for every
// delivery.
func (rn *runner) load(img *Image) {
	if rn.publisher == nil {
		return
	}
	queued := time.Now()
	rn.loads.Go(func() error {
		img.timing.delivering(queued)
		err := rn.publish(rn.loadCtx, img, rn.publisher)
		// Record now: a run killed later must still know where its images
		// went, so that clean can reach them.
		rn.rec.save(img)
		if err != nil {
			rn.rep.Event(progress.Event{Time: time.Now(), Service: img.Service, State: progress.Failed, Error: err.Error()})
		}
		return err
	})
}

// publish runs pub for img and copies what it did into img.
func (rn *runner) publish(ctx context.Context, img *Image, pub publish.Interface) error {
	logw := rn.deliveryLog(img)
	defer logw.Close()
	d := &publish.Delivery{Pushed: img.Pushed}
	err := pub.Publish(img.timing.watchLoads(ctx), publish.Image{Service: img.Service, Ref: img.Ref, ID: img.ID, Fresh: img.Status == run.Built, Log: logw,
		Report: func(st progress.State, line string) {
			img.timing.delivery(st)
			rn.rep.Event(progress.Event{Time: time.Now(), Service: img.Service, State: st, Ref: img.Ref, Line: line})
		}}, d)
	img.Pushed = d.Pushed
	if err == nil {
		rn.shareInRegistry(ctx, img)
	}
	if d.Kind != nil {
		img.Kind = d.Kind
	}
	if err != nil && (d.Kind == nil || d.Kind.Err == nil) {
		img.Err = err // a load's own error stays in img.Kind
	}
	return err
}

// deliveryLog appends push and pull output to the service's log file.
func (rn *runner) deliveryLog(img *Image) io.WriteCloser {
	f, err := openLog(img.Log)
	if err != nil {
		return nopCloser{io.Discard}
	}
	return f
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// spec is the engine-neutral build of service s.
func (rn *runner) spec(img *Image, all map[string]*Image) engine.BuildSpec {
	p, s := rn.plan, img.Service
	svc := p.Cfg.Services[s]
	args := buildArgs(svc, func(d string) string { return all[d].Ref })
	labels := map[string]string{}
	for k, v := range svc.Labels {
		labels[k] = v
	}
	for k, v := range rn.imageLabels(img) {
		labels[k] = v
	}
	cacheFrom, cacheTo, _ := rn.cacheSpecs(s)
	var secrets []engine.Secret
	for _, sec := range svc.Secrets {
		secrets = append(secrets, engine.Secret{ID: sec.ID, Env: sec.Env, File: sec.Src})
	}
	return engine.BuildSpec{
		Secrets:    secrets,
		Contexts:   p.Cfg.ContextSources(svc),
		Dockerfile: p.Cfg.DockerfilePath(svc),
		Context:    p.Cfg.ContextDir(svc),
		Target:     svc.Target,
		Platform:   p.Platform(svc),
		Args:       args,
		Labels:     labels,
		Tags:       []string{p.Refs[s].String()},
		NoCache:    p.NoCache,
		Builder:    p.Builder,
		PushOnly:   p.PushOnly(),
		Insecure:   p.Insecure(img.Ref),
		// Checked before the run started (checkCache).
		CacheFrom: cacheFrom,
		CacheTo:   cacheTo,
	}
}

// buildArgs is the service's args plus one per dependency: its image, as
// dep gives it, reaches the Dockerfile so that `ARG BASE_IMAGE` /
// `FROM ${BASE_IMAGE}` picks up this run's build of it.
func buildArgs(svc *config.Service, dep func(string) string) map[string]string {
	args := maps.Clone(svc.Args)
	if args == nil {
		args = map[string]string{}
	}
	for _, d := range svc.DependsOn {
		args[config.ArgName(d)] = dep(d)
	}
	return args
}

func (rn *runner) imageLabels(img *Image) map[string]string {
	p, s, runID, now := rn.plan, img.Service, rn.runID, rn.now
	l := map[string]string{
		labels.Service:                     s,
		labels.User:                        p.User,
		labels.Run:                         runID,
		labels.Project:                     p.Cfg.Project,
		labels.Created:                     now.UTC().Format(time.RFC3339Nano),
		labels.Ref:                         img.Ref,
		"org.opencontainers.image.created": now.UTC().Format(time.RFC3339),
		"org.opencontainers.image.source":  p.Source,
	}
	if img.Inputs != "" {
		l[labels.Inputs] = img.Inputs
	}
	if p.Git.Commit != "" {
		l["org.opencontainers.image.revision"] = p.Git.Commit
	}
	return l
}

func openLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening build log: %w", err)
	}
	return f, nil
}

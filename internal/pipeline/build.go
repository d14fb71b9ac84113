package pipeline

import (
	"context"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/clusters"
	"github.com/slipway-dev/slipway/internal/errs"
	"github.com/slipway-dev/slipway/internal/inventory"
	"github.com/slipway-dev/slipway/internal/plan"
	"github.com/slipway-dev/slipway/pkg/build"
	"github.com/slipway-dev/slipway/pkg/build/buildkit"
	"github.com/slipway-dev/slipway/pkg/progress"
	"github.com/slipway-dev/slipway/pkg/run"
	"github.com/slipway-dev/slipway/pkg/schedule"
	"github.com/slipway-dev/slipway/pkg/slots"
)

// Options says what to build and how.
type Options struct {
	// Config is slipway.yaml, or a folder to search upward from; "" means the
	// working directory.
	Config string
	// Services are service or group names; none means every service.
	Services []string
	// Tag overrides the tag of every image; "" means the config's template
	// (the CLI reads $IMAGE_TAG).
	Tag string
	// Jobs bounds concurrent builds: 0 means adaptive (the CPUs, more
	// while the CPU idles, fewer when memory is short), <0 no limit.
	Jobs int
	// HostJobs bounds builds across every slipway process on the machine;
	// 0 means no host bound (the CLI reads $SLIPWAY_HOST_JOBS).
	HostJobs int
	// KeepGoing builds all it can after a failure instead of cancelling.
	KeepGoing bool
	// Timeout bounds each build; 0 means none.
	Timeout time.Duration
	// Engine is "docker", "podman" or "" to detect.
	Engine string
	// NoCache forces every build step to run.
	NoCache bool
	// Reporter receives progress events; nil discards them.
	Reporter progress.Reporter
	// Logs, if set, returns an extra writer for a service's build log
	// (the full log always goes to the run folder too).
	Logs func(service string) io.Writer
	// StateDir holds run folders; "" means run.StateDir().
	StateDir string
	// Kind, if set, loads each image into a Kind cluster as soon as its
	// build finishes, while the other builds go on.
	Kind *clusters.KindOptions
	// ReuseTag, if set, uses an existing image of this tag for each service
	// instead of building it (CI: build once, reuse in later jobs); a
	// service without one is built as usual. The image is borrowed: this
	// run never removes it. (The CLI reads $SLIPWAY_REUSE_TAG.)
	ReuseTag string
	// Push sends each image to the registry its name points at, while the
	// other builds go on. Credentials come from the engine's login store.
	Push bool
	// Registry, if set, moves every image name to this registry host.
	Registry string
	// Platforms builds each image for these platforms (more than one needs Push).
	Platforms []string
	// Builder is a named buildx builder, e.g. a remote BuildKit daemon.
	Builder string
	// Shard "i/n" builds only the i-th of n disjoint parts of the services
	// (a service and what it depends on stay together), for CI fan-out.
	Shard string
	// CacheFrom and CacheTo are BuildKit cache specs (buildx's
	// --cache-from/--cache-to syntax) for every service, replacing the
	// config's cache_from/cache_to; see registry.go for the defaults.
	CacheFrom, CacheTo []string
	// Cleanup removes this run's images from the local engine once they
	// are in every Kind node (as the old script's --cleanup did).
	Cleanup bool
}

// Image is one service's outcome.
type Image struct {
	Service string
	Ref     string // repository:tag
	Tag     string
	ID      string
	Status  run.Status
	// Inputs is the digest of what the build can see (see package inputs).
	Inputs   string
	Started  time.Time
	Duration time.Duration
	Err      error
	Log      string // the full build log
	// Kind says what loading did on each node, when Options.Kind is set.
	Kind *clusters.Loaded
	// CleanedUp is set when Options.Cleanup removed the engine's copy.
	CleanedUp bool
	// Pushed is the registry digest, when Options.Push sent it.
	Pushed string
	// Borrowed is set when Ref names an existing image this run did not
	// tag (Options.ReuseTag): cleanup never removes it.
	Borrowed bool
	// Tagged is when this run gave the image its name.
	Tagged time.Time
	// timing collects the phases' spans for the record (slipway report).
	timing *timing
}

// Result is what a run made, by service.
type Result struct {
	Run      string
	RunDir   string
	StateDir string
	Engine   string
	Images   map[string]*Image
	// Order lists the services in config order.
	Order []string
	// Metadata is the run record: the --metadata-file content.
	Metadata run.Record
}

// Refs maps each built service to its image reference.
func (r *Result) Refs() map[string]string {
	m := map[string]string{}
	for s, img := range r.Images {
		if img.Status.Produced() {
			m[s] = img.Ref
		}
	}
	return m
}

// Failures lists the failed services' errors in config order.
func (r *Result) Failures() []*Image {
	var out []*Image
	for _, s := range r.Order {
		if img := r.Images[s]; img.Status == run.Failed {
			out = append(out, img)
		}
	}
	return out
}

// DefaultJobs is the number of builds that always may run at once: the
// CPUs, fewer when memory is short (a Go build can take ~1.5 GiB), so a
// small CI runner is not pushed into the OOM killer.
func DefaultJobs() int {
	n := runtime.NumCPU()
	if avail := slots.MemAvailable(); avail > 0 {
		n = min(n, int(avail/perBuildMem))
	}
	return max(n, 1)
}

const perBuildMem = 1536 << 20

// buildSlots turns the Jobs and HostJobs options into the bound the
// scheduler uses.
func buildSlots(o Options) (slots.Slots, error) {
	var local slots.Slots
	switch {
	case o.Jobs > 0:
		local = slots.NewFixed(o.Jobs)
	case o.Jobs < 0:
		local = slots.Unlimited{}
	default:
		// Default: the CPU bound, plus more builds while ours wait on the
		// builder rather than run their RUN steps (the direct builder reports
		// steps), or while the CPU idles, so builds that mostly wait overlap
		// instead of queueing. See slots.Adaptive.
		base := DefaultJobs()
		local = &slots.Adaptive{Base: base, Max: max(4*runtime.NumCPU(), 8), StepMax: max(16*runtime.NumCPU(), 32),
			Compute:    max(4*runtime.NumCPU(), 8),
			MinFreeMem: 2 * perBuildMem, PerBuildMem: perBuildMem}
	}
	if o.HostJobs <= 0 {
		return local, nil
	}
	return slots.Chain{local, slots.Host{Dir: slots.DefaultHostDir(), N: o.HostJobs}}, nil
}

// Build builds the selected services and returns every outcome. Bad input
// returns a *UsageError before anything is built; failed builds return the
// Result and an error wrapping errs.ErrBuildFailed; cancellation returns ctx's error.
func Build(ctx context.Context, o Options) (*Result, error) { return buildRun(ctx, o, Cycle{}) }

func buildRun(ctx context.Context, o Options, cy Cycle) (*Result, error) {
	in := o.input()
	in.Env, in.Hasher = cy.Env, cy.Hasher
	p, err := plan.Prepare(ctx, in, true)
	if err != nil {
		return nil, err
	}
	if err := checkCache(p, o); err != nil {
		return nil, err
	}
	carry := cy.carryable(ctx, p)
	rep := o.Reporter
	if rep == nil {
		rep = progress.Nop{}
	}
	stateDir := o.StateDir
	if stateDir == "" {
		stateDir = run.StateDir()
	}
	now := time.Now()
	runID := run.NewID(now)
	// The run exists (and holds its lock) before it claims any tag, so a
	// claim is only ever held by a live run: see run.Reserve.
	r, err := run.Start(stateDir, run.Record{Run: runID, Project: p.Cfg.Project, User: p.User, Engine: p.Engine.Name, Started: now})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if err := assignRefs(ctx, p, carry, stateDir, runID, now); err != nil {
		// Nothing was made: leave no run behind.
		r.Close()
		_ = run.Remove(stateDir, runID)
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	res := &Result{Run: runID, RunDir: r.Dir, StateDir: stateDir, Engine: p.Engine.Name, Images: map[string]*Image{}, Order: p.Services}
	for _, s := range p.Services {
		img := &Image{Service: s, Ref: p.Refs[s].String(), Tag: p.Refs[s].Tag, Status: run.Queued, Log: r.LogPath(s), timing: &timing{deps: p.Cfg.Services[s].DependsOn}}
		res.Images[s] = img
		rep.Event(progress.Event{Time: time.Now(), Service: s, State: progress.Queued, Ref: img.Ref})
	}
	rc := &recorder{run: r}
	queued := make([]*Image, 0, len(p.Services))
	for _, s := range p.Services {
		queued = append(queued, res.Images[s])
	}
	rc.save(queued...) // one write for all: N writes of an N-service record add up

	// Builds go to BuildKit directly over one connection when they can,
	// else through the engine's CLI (each service's log says which).
	bk := &buildkit.Auto{Engine: p.Engine, Builder: p.Builder, CLI: &build.Builder{Engine: p.Engine, TempDir: r.Dir}}
	defer bk.Close()
	rn := &runner{plan: p, o: o, rec: rc, rep: rep, runID: runID, now: now, loadCtx: ctx,
		builder: bk, hasher: p.Hasher, publisher: publishers(p)}
	sl, err := buildSlots(o)
	if err != nil {
		return nil, err
	}
	rn.loads.SetLimit(DefaultJobs())
	// Each service: reuse an image with the same inputs, else wait for a
	// slot and build.
	chain := &build.Reuser{
		Find: func(ctx context.Context, req build.Request) (build.Result, bool, error) {
			img := res.Images[req.Service]
			ok, err := rn.reuse(ctx, img, res.Images)
			img.timing.looked()
			return build.Result{ID: img.ID}, ok, err
		},
		Inner: &build.Limiter{Slots: sl,
			Waiting: func(s string) {
				res.Images[s].timing.waiting()
				rep.Event(progress.Event{Time: time.Now(), Service: s, State: progress.Waiting})
			},
			Inner: build.Func(func(ctx context.Context, req build.Request) (build.Result, error) {
				img := res.Images[req.Service]
				return build.Result{ID: img.ID}, rn.build(ctx, img, res.Images, req.OnStep)
			}),
		},
	}
	tasks := make([]schedule.Task, 0, len(p.Services))
	scheduled := time.Now()
	for _, s := range p.Services {
		tasks = append(tasks, schedule.Task{
			Name: s,
			Deps: p.Cfg.Services[s].DependsOn,
			Run: func(ctx context.Context) error {
				res.Images[s].timing.ready(scheduled)
				if c, ok := carry[s]; ok {
					rn.carried(res.Images[s], c)
					return nil
				}
				_, err := chain.Build(ctx, build.Request{Service: s})
				return err
			},
		})
	}
	outcomes := schedule.Run(ctx, tasks, schedule.Options{KeepGoing: o.KeepGoing})
	_ = rn.loads.Wait() // load errors are in each image's Kind
	if o.Cleanup {
		cleanupEngine(ctx, p, res)
	}

	failed := false
	for s, oc := range outcomes {
		img := res.Images[s]
		img.settle(oc)
		if img.Status == run.Failed {
			failed = true
		}
		if !img.Status.Produced() && img.Status != run.Failed {
			rep.Event(progress.Event{Time: time.Now(), Service: s, State: progress.State(img.Status)})
		}
	}
	state := run.Done
	switch {
	case ctx.Err() != nil:
		state = run.Interrupted
	case failed:
		state = run.RunFailed
	}
	takeOver(res, carry, state)
	if err := rc.finish(state, res.Images); err != nil {
		return res, fmt.Errorf("run %s: saving its record: %w", runID, err)
	}
	res.Metadata = r.Snapshot()
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("run %s: %w", runID, context.Cause(ctx))
	case failed:
		names := []string{}
		for _, f := range res.Failures() {
			names = append(names, f.Service)
		}
		return res, fmt.Errorf("run %s: %w: %s", runID, errs.ErrBuildFailed, strings.Join(names, ", "))
	}
	return res, nil
}

// settle gives img its final status from how its task ended and how its
// delivery went: a push or load that failed fails the service.
func (img *Image) settle(oc schedule.Outcome) {
	switch oc.Status {
	case schedule.Done:
		if !img.Status.IsReused() {
			img.Status = run.Built
		}
	case schedule.Failed:
		img.Status, img.Err = run.Failed, oc.Err
	case schedule.Skipped:
		img.Status, img.Err = run.Skipped, oc.Err
	default:
		img.Status, img.Err = run.Cancelled, oc.Err
	}
	if img.Status.Produced() {
		if img.Err != nil { // its push or load failed
			img.Status = run.Failed
		} else if img.Kind != nil && img.Kind.Err != nil {
			img.Status, img.Err = run.Failed, img.Kind.Err
		}
	}
}

// cleanupEngine untags from the engine each image that reached every node;
// one whose load failed stays, so nothing is lost.
func cleanupEngine(ctx context.Context, p *plan.Plan, res *Result) {
	for _, s := range res.Order {
		img := res.Images[s]
		delivered := img.Err == nil && (img.Kind != nil && img.Kind.Err == nil || img.Pushed != "")
		if !delivered || p.PushOnly() || img.Borrowed {
			continue
		}
		if err := p.Eng.Untag(ctx, img.Ref); err == nil {
			img.CleanedUp = true
		}
	}
}

// SortedServices returns m's keys in order.
func SortedServices[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// input is the part of o that makes the plan.
func (o Options) input() plan.Input {
	return plan.Input{Config: o.Config, Services: o.Services, Tag: o.Tag, ReuseTag: o.ReuseTag, Engine: o.Engine,
		Registry: o.Registry, Push: o.Push, Platforms: o.Platforms, Builder: o.Builder, Shard: o.Shard,
		NoCache: o.NoCache, Cleanup: o.Cleanup, Kind: o.Kind}
}

// Tags returns the references a build with o would produce, without
// reserving them or asking the engine (a build may still add a suffix to a
// generated tag that is taken by then).
func Tags(ctx context.Context, o Options) (map[string]string, error) {
	return plan.Tags(ctx, o.input())
}

// Clean removes what this result's run made, from the engine and from every
// Kind node it loaded into — and from clusters, if named, that its images
// were loaded into separately with Load.
func (r *Result) Clean(ctx context.Context, clusters ...string) (*inventory.Removal, error) {
	return inventory.CleanRun(ctx, inventory.CleanOptions{Run: r.Run, StateDir: r.StateDir, Engine: r.Engine, Clusters: clusters})
}

package slipway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/pkg/build"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/kind"
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
	// Tag overrides the tag of every image (then IMAGE_TAG, then the config).
	Tag string
	// Jobs bounds concurrent builds: 0 means adaptive (the CPUs, more
	// while the CPU idles, fewer when memory is short), <0 no limit.
	Jobs int
	// HostJobs bounds builds across every slipway process on the machine;
	// 0 means $SLIPWAY_HOST_JOBS, or no host bound.
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
	Kind *KindOptions
	// Cleanup removes this run's images from the local engine once they
	// are in every Kind node (as the old script's --cleanup did).
	Cleanup bool
}

// Image is one service's outcome.
type Image struct {
	Service  string
	Ref      string // repository:tag
	Tag      string
	ID       string
	Status   string // built, failed, cancelled, skipped
	Started  time.Time
	Duration time.Duration
	Err      error
	Log      string // the full build log
	// Kind says what loading did on each node, when Options.Kind is set.
	Kind *Loaded
	// CleanedUp is set when Options.Cleanup removed the engine's copy.
	CleanedUp bool
}

// Result is what a run made, by service.
type Result struct {
	Run    string
	RunDir string
	Engine string
	Images map[string]*Image
	// Order lists the services in config order.
	Order []string
	// Metadata is the run record: the --metadata-file content.
	Metadata run.Record
}

// Refs maps each built service to its image reference.
func (r *Result) Refs() map[string]string {
	m := map[string]string{}
	for s, img := range r.Images {
		if img.Status == "built" {
			m[s] = img.Ref
		}
	}
	return m
}

// Failures lists the failed services' errors in config order.
func (r *Result) Failures() []*Image {
	var out []*Image
	for _, s := range r.Order {
		if img := r.Images[s]; img.Status == "failed" {
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
		// Default: the CPU bound, plus more builds while the CPU idles, so
		// builds that mostly wait overlap instead of queueing.
		base := DefaultJobs()
		local = &slots.Adaptive{Base: base, Max: max(4*runtime.NumCPU(), 8), MinFreeMem: 2 * perBuildMem}
	}
	hostJobs := o.HostJobs
	if hostJobs == 0 {
		if v := os.Getenv("SLIPWAY_HOST_JOBS"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, usagef("SLIPWAY_HOST_JOBS=%q: want a number of builds", v)
			}
			hostJobs = n
		}
	}
	if hostJobs <= 0 {
		return local, nil
	}
	return slots.Chain{local, slots.Host{Dir: slots.DefaultHostDir(), N: hostJobs}}, nil
}

// Build builds the selected services and returns every outcome. Bad input
// returns a *UsageError before anything is built; failed builds return the
// Result and an error wrapping ErrBuildFailed; cancellation returns ctx's error.
func Build(ctx context.Context, o Options) (*Result, error) {
	p, err := prepare(ctx, o, true)
	if err != nil {
		return nil, err
	}
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
	if err := p.assignRefs(ctx, stateDir, runID, now); err != nil {
		return nil, err
	}

	r, err := run.Start(stateDir, run.Record{Run: runID, Project: p.cfg.Project, User: p.user, Engine: p.eng.Name, Started: now})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	res := &Result{Run: runID, RunDir: r.Dir, Engine: p.eng.Name, Images: map[string]*Image{}, Order: p.services}
	for _, s := range p.services {
		img := &Image{Service: s, Ref: p.refs[s].String(), Tag: p.refs[s].Tag, Status: "queued", Log: r.LogPath(s)}
		res.Images[s] = img
		rep.Event(progress.Event{Time: time.Now(), Service: s, State: progress.Queued, Ref: img.Ref})
	}
	_ = r.Update(func(rec *run.Record) {
		for s, img := range res.Images {
			rec.Services[s] = &run.Service{Image: img.Ref, Tag: img.Tag, Status: img.Status, Log: img.Log}
		}
	})

	builder := &build.Builder{Engine: p.eng, TempDir: r.Dir}
	sl, err := buildSlots(o)
	if err != nil {
		return nil, err
	}
	p.loads.SetLimit(DefaultJobs())
	tasks := make([]schedule.Task, 0, len(p.services))
	for _, s := range p.services {
		tasks = append(tasks, schedule.Task{
			Name: s,
			Deps: p.cfg.Services[s].DependsOn,
			Run: func(taskCtx context.Context) error {
				// Loads outlive the task; they stop only with the caller's ctx.
				return p.buildOne(taskCtx, ctx, builder, r, res.Images[s], o, rep, runID, now)
			},
		})
	}
	outcomes := schedule.Run(ctx, tasks, schedule.Options{Slots: sl, KeepGoing: o.KeepGoing,
		Waiting: func(s string) {
			rep.Event(progress.Event{Time: time.Now(), Service: s, State: progress.Waiting})
		}})
	_ = p.loads.Wait() // load errors are in each image's Kind
	if o.Cleanup {
		p.cleanupEngine(ctx, res)
	}

	failed := false
	for s, oc := range outcomes {
		img := res.Images[s]
		switch oc.Status {
		case schedule.Done:
			img.Status = "built"
		case schedule.Failed:
			img.Status, img.Err, failed = "failed", oc.Err, true
		case schedule.Skipped:
			img.Status, img.Err = "skipped", oc.Err
		default:
			img.Status, img.Err = "cancelled", oc.Err
		}
		if img.Kind != nil && img.Kind.Err != nil {
			img.Status, img.Err, failed = "failed", img.Kind.Err, true
		}
		if img.Status != "built" && img.Status != "failed" {
			rep.Event(progress.Event{Time: time.Now(), Service: s, State: progress.State(img.Status)})
		}
	}
	state := "done"
	switch {
	case ctx.Err() != nil:
		state = "interrupted"
	case failed:
		state = "failed"
	}
	end := time.Now()
	if err := r.Update(func(rec *run.Record) {
		rec.State, rec.Ended = state, &end
		for s, img := range res.Images {
			img.fill(rec.Services[s])
		}
	}); err != nil {
		return res, err
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
		return res, fmt.Errorf("run %s: %w: %s", runID, ErrBuildFailed, strings.Join(names, ", "))
	}
	return res, nil
}

func (p *plan) buildOne(ctx, loadCtx context.Context, b build.Interface, r *run.Run, img *Image, o Options, rep progress.Reporter, runID string, now time.Time) error {
	s := img.Service
	logf, err := openLog(img.Log)
	if err != nil {
		return err
	}
	defer logf.Close()
	sinks := []io.Writer{logf, &progress.LineWriter{Service: s, Reporter: rep}}
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
	_ = r.Update(func(rec *run.Record) { rec.Services[s].Status = "building" })
	spec := p.spec(s, runID, now)
	out, err := b.Build(ctx, build.Request{Service: s, Spec: spec, Log: io.MultiWriter(sinks...), LogPath: img.Log})
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
	img.ID = out.ID
	_ = r.Update(func(rec *run.Record) {
		rec.Services[s].ID, rec.Services[s].Status = out.ID, "built"
	})
	rep.Event(progress.Event{Time: time.Now(), Service: s, State: progress.Built, Ref: img.Ref})
	if p.cluster != nil {
		// Load while the other builds go on; Build waits for all loads.
		p.loads.Go(func() error {
			rep.Event(progress.Event{Time: time.Now(), Service: s, State: progress.Loading, Ref: img.Ref})
			l := loadOne(loadCtx, p.cluster, p.eng, kind.Image{Ref: img.Ref, ID: img.ID})
			img.Kind = l
			// Record the load now: a run killed later must still know which
			// nodes hold this image, so that clean can reach them.
			_ = r.Update(func(rec *run.Record) { img.fill(rec.Services[s]) })
			if l.Err != nil {
				rep.Event(progress.Event{Time: time.Now(), Service: s, State: progress.Failed, Error: l.Err.Error()})
				return fmt.Errorf("%s: %w", s, l.Err)
			}
			rep.Event(progress.Event{Time: time.Now(), Service: s, State: progress.Loaded, Ref: img.Ref, Line: NodeSummary(l)})
			return nil
		})
	}
	return nil
}

// cleanupEngine untags from the engine each image that reached every node;
// one whose load failed stays, so nothing is lost.
func (p *plan) cleanupEngine(ctx context.Context, res *Result) {
	for _, s := range res.Order {
		img := res.Images[s]
		if img.Kind == nil || img.Kind.Err != nil {
			continue
		}
		if err := p.eng.Untag(ctx, img.Ref); err == nil {
			img.CleanedUp = true
		}
	}
}

// fill copies what is known of img into its record entry.
func (img *Image) fill(rs *run.Service) {
	rs.ID, rs.DurationMS, rs.CleanedUp = img.ID, img.Duration.Milliseconds(), img.CleanedUp
	if !img.Started.IsZero() {
		t := img.Started
		rs.Started = &t
	}
	if img.Status != "" && img.Status != "queued" {
		rs.Status = img.Status
	}
	if img.Err != nil {
		rs.Error = img.Err.Error()
	}
	if l := img.Kind; l != nil {
		rs.Kind = &run.KindLoad{Cluster: l.Cluster, Nodes: map[string]string{}, DurationMS: l.Duration.Milliseconds()}
		for n, a := range l.Nodes {
			rs.Kind.Nodes[n] = string(a)
		}
		if l.Err != nil {
			rs.Status, rs.Error = "failed", l.Err.Error()
		}
	}
}

// NodeSummary is "cluster: node=action ..." for tables and logs.
func NodeSummary(l *Loaded) string {
	var parts []string
	for _, n := range SortedServices(l.Nodes) {
		parts = append(parts, n+"="+string(l.Nodes[n]))
	}
	return l.Cluster + ": " + strings.Join(parts, " ")
}

// spec is the engine-neutral build of service s.
func (p *plan) spec(s, runID string, now time.Time) engine.BuildSpec {
	svc := p.cfg.Services[s]
	args := map[string]string{}
	for k, v := range svc.Args {
		args[k] = v
	}
	// A dependency's image reaches the Dockerfile as a build arg, so that
	// `ARG BASE_IMAGE` / `FROM ${BASE_IMAGE}` picks up this run's build of it.
	for _, d := range svc.DependsOn {
		args[argName(d)] = p.refs[d].String()
	}
	labels := map[string]string{}
	for k, v := range svc.Labels {
		labels[k] = v
	}
	for k, v := range p.labels(s, runID, now) {
		labels[k] = v
	}
	return engine.BuildSpec{
		Dockerfile: p.cfg.DockerfilePath(svc),
		Context:    p.cfg.ContextDir(svc),
		Target:     svc.Target,
		Platform:   svc.Platform,
		Args:       args,
		Labels:     labels,
		Tags:       []string{p.refs[s].String()},
		NoCache:    p.noCache,
	}
}

// argName is the build arg that carries dependency d's image reference.
func argName(d string) string {
	b := []byte(strings.ToUpper(d))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b) + "_IMAGE"
}

// Label keys slipway sets on every image it makes.
const (
	LabelService = "dev.slipway.service"
	LabelUser    = "dev.slipway.user"
	LabelRun     = "dev.slipway.run"
	LabelProject = "dev.slipway.project"
	LabelCreated = "dev.slipway.created"
	// LabelRef is the reference the image was built under: the one name of
	// it that cleanup may remove without a run record saying so.
	LabelRef = "dev.slipway.ref"
)

func (p *plan) labels(s, runID string, now time.Time) map[string]string {
	l := map[string]string{
		LabelService:                       s,
		LabelUser:                          p.user,
		LabelRun:                           runID,
		LabelProject:                       p.cfg.Project,
		LabelCreated:                       strconv.FormatInt(now.Unix(), 10),
		"org.opencontainers.image.created": now.UTC().Format(time.RFC3339),
		"org.opencontainers.image.source":  p.source,
	}
	if p.git.Commit != "" {
		l["org.opencontainers.image.revision"] = p.git.Commit
	}
	return l
}

// SortedServices returns m's keys in order.
func SortedServices[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

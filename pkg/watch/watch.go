// Package watch is `slipway watch`: it watches the files the selected
// services' builds read and, after each burst of edits, builds the services
// whose inputs changed (their dependents follow, since a dependent's inputs
// include its dependency's image) and delivers them as `slipway build`
// would: into Kind nodes, or to a registry.
//
// Each cycle is one run (pipeline.BuildCycle) of every selected service, but
// it costs what changed: the services whose inputs changed since the last
// kept cycle, and their dependents, are built (or reused, when an image
// with those inputs exists) and loaded; every other service's image is
// carried over from the last kept cycle under its name — no build, no
// re-tag, nothing sent to a node — and the run takes over that name once
// it succeeds. The engine, cluster and Git state are found once per watch
// (Git is read again after each kept cycle, off the edit-to-image path),
// and the build reuses the watch's own walk of the contexts for its
// digests. So the newest kept run always holds the whole current set. Once
// a cycle has delivered, the run before it is cleaned (only the names that
// run still owns: those it built and the next one did not carry), and a
// cycle that is cancelled, superseded or fails is cleaned too (a cancelled
// or superseded one leaves no run folder either). So at any time one run
// holds what the watch made, and `slipway clean` after the watch removes it.
//
// Cycles run one at a time: an edit during a cycle that changes a digest
// cancels it, its run is cleaned (removing from the nodes anything it had
// loaded), and only then does the next cycle start, so an older image can
// never be loaded after, or over, a newer one.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/errs"
	"github.com/slipway-dev/slipway/internal/inventory"
	"github.com/slipway-dev/slipway/internal/pipeline"
	"github.com/slipway-dev/slipway/internal/plan"
	"github.com/slipway-dev/slipway/pkg/build"
	"github.com/slipway-dev/slipway/pkg/config"
	"github.com/slipway-dev/slipway/pkg/inputs"
	"github.com/slipway-dev/slipway/pkg/kind"
	"github.com/slipway-dev/slipway/pkg/run"
	"github.com/slipway-dev/slipway/pkg/tag"
)

// DefaultDebounce is the quiet time after a file event before a cycle
// starts: an editor's save is often several events.
const DefaultDebounce = 200 * time.Millisecond

// Options says what to watch, how to build and where images go.
type Options struct {
	// Build is how each cycle builds: the config, the services or groups
	// (none: all), the engine, Kind or Push. Its Reporter gets every
	// cycle's build events.
	Build pipeline.Options
	// Debounce is the quiet time before a cycle; 0 means DefaultDebounce.
	// MaxWait bounds the wait while events keep coming; 0 means 10 x Debounce.
	Debounce, MaxWait time.Duration
	// Exec, if set, runs with sh -c after each cycle that succeeded, with
	// the images in its environment and as JSON on stdin (see ExecInput).
	Exec string
	// Out gets one line per cycle; Err the log tails of failed builds;
	// ExecOut and ExecErr the command's output. nil discards.
	Out, Err, ExecOut, ExecErr io.Writer
	// OnCycle, if set, is called after each cycle, with its outcome.
	OnCycle func(Cycle)
}

// Watch builds the selected services once, then again after each change,
// until ctx ends; it returns ctx's cause. Bad input (config, services,
// cluster) returns a usage error before anything is watched.
func Watch(ctx context.Context, o Options) error {
	cfgPath := o.Build.Config
	if cfgPath == "" {
		cfgPath = "."
	}
	// What to watch is re-read from the config when it changes; a broken
	// config keeps the last good scope until it is fixed.
	var mu sync.Mutex
	var lastCfg *config.Config
	var lastSvcs []string
	cfgOf := func() (*config.Config, []string, error) {
		cfg, err := config.Load(cfgPath)
		if err == nil {
			var svcs []string
			if svcs, err = cfg.Select(o.Build.Services...); err == nil {
				mu.Lock()
				lastCfg, lastSvcs = cfg, svcs
				mu.Unlock()
				return cfg, svcs, nil
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if lastCfg != nil {
			return lastCfg, lastSvcs, nil
		}
		return nil, nil, errs.Usage(err)
	}
	// Check the build options as a build would (engine, cluster, tags),
	// before watching anything; what it finds serves every cycle.
	env, err := pipeline.Setup(ctx, o.Build)
	if err != nil {
		return err
	}
	t, err := newTree(cfgOf)
	if err != nil {
		return err
	}
	tctx, stop := context.WithCancel(ctx)
	defer stop()
	go t.run(tctx)

	stateDir := o.Build.StateDir
	if stateDir == "" {
		stateDir = run.StateDir()
	}
	w := &watcher{o: o, stateDir: stateDir, cfgOf: cfgOf, env: env}
	debounce := o.Debounce
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	maxWait := o.MaxWait
	if maxWait <= 0 {
		maxWait = 10 * debounce
	}
	l := &loop{debounce: debounce, maxWait: maxWait, events: t.out,
		snap: func(ctx context.Context) (snapshot, error) {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return snapshot{}, err
			}
			svcs, err := cfg.Select(o.Build.Services...)
			if err != nil {
				return snapshot{}, err
			}
			h := inputs.NewHasher() // new each time: its walks are cached for good
			return snapshot{services: svcs, digests: sourceDigests(ctx, h, cfg, svcs, o.Build.Platforms), hasher: h}, nil
		},
		exists: func(p string) bool {
			if !filepath.IsAbs(p) {
				if cfg, _, err := cfgOf(); err == nil {
					p = filepath.Join(cfg.Dir, p)
				}
			}
			_, err := os.Lstat(p)
			return err == nil
		},
		cycle: w.cycle, keep: w.keep, discard: w.discard, report: w.report,
		warn:  func(err error) { w.printf("watch: %v\n", err) },
		fatal: errs.IsUsage,
	}
	go func() {
		for {
			select {
			case <-tctx.Done():
				return
			case err := <-t.errs:
				l.warn(err)
			}
		}
	}()
	err = l.run(ctx)
	w.bg.Wait() // the last retired run is gone before the watch returns
	return err
}

// watcher is what the loop's steps do with the real engine and nodes.
type watcher struct {
	o        Options
	stateDir string
	cfgOf    func() (*config.Config, []string, error)
	// env is the engine, cluster and Git state every cycle builds with.
	env   *plan.Env
	kept  string           // the run of the last kept cycle
	last  *pipeline.Result // and what it made
	outMu sync.Mutex       // report and warnings come from two goroutines
	envMu sync.Mutex       // env is read again in the background
	bg    sync.WaitGroup   // keep's background work, which Watch waits for
}

// cycle builds the services whose inputs changed since the last kept cycle
// (and, through the pipeline, their dependents), and carries every other
// service's image over from that cycle as it is.
func (w *watcher) cycle(ctx context.Context, c *Cycle) error {
	var carry map[string]pipeline.Carried
	if w.last != nil {
		carry = map[string]pipeline.Carried{}
		for s, img := range w.last.Images {
			if slices.Contains(c.Services, s) {
				continue
			}
			if cr, ok := pipeline.CarryOf(img); ok {
				carry[s] = cr
			}
		}
	}
	w.envMu.Lock()
	env := w.env
	w.envMu.Unlock()
	res, err := pipeline.BuildCycle(ctx, w.o.Build, pipeline.Cycle{Env: env, Hasher: c.hasher, Carry: carry})
	if res != nil {
		c.Run, c.res = res.Run, res
		c.Refs = res.Refs()
		for _, s := range res.Order {
			switch res.Images[s].Status {
			case run.Built:
				c.Rebuilt = append(c.Rebuilt, s)
			case run.Reused, run.ReusedRegistry:
				c.Reused = append(c.Reused, s)
			}
		}
		for _, img := range res.Failures() {
			c.Failed = append(c.Failed, img.Service)
			var f *build.Failure
			if errors.As(img.Err, &f) {
				w.errorf("%s\n", f.Detail())
			} else {
				w.errorf("%s: %v\n", img.Service, img.Err)
			}
		}
	}
	return err
}

// keep runs --exec for a cycle that delivered, then retires the run of the
// previous kept cycle: its every image now has a newer name in c's run.
func (w *watcher) keep(ctx context.Context, c *Cycle) {
	if w.o.Exec != "" {
		if err := runExec(ctx, w.o.Exec, c, w.o.ExecOut, w.o.ExecErr); err != nil && ctx.Err() == nil {
			w.printf("watch: #%d --exec: %v\n", c.Seq, err)
		}
	}
	prev := w.kept
	w.kept, w.last = c.Run, c.res
	// Retiring the older run and reading Git again take seconds on a busy
	// machine (node listings, git status): they go on in the background,
	// so that an edit made meanwhile starts its cycle at once. Neither
	// touches what the next cycle builds or carries: the older run owns
	// only names the kept one replaced, and a cycle that starts before Git
	// is read names the commit read before.
	w.bg.Add(1)
	go func() {
		defer w.bg.Done()
		if prev != "" && prev != c.Run {
			w.clean(prev)
		}
		if cfg, _, err := w.cfgOf(); err == nil && ctx.Err() == nil {
			g := tag.ReadGit(ctx, cfg.Dir)
			w.envMu.Lock()
			env := *w.env
			env.Git = g
			w.env = &env
			w.envMu.Unlock()
		}
	}()
}

// discard removes what a cycle that is not kept made: from the engine, and
// from the nodes, so that no older image is left there. A cancelled or
// superseded cycle's run folder goes too (it holds nothing worth reading),
// so that the newest run is the last kept one, which `slipway clean`
// after a Ctrl-C removes; a failed one keeps its logs.
func (w *watcher) discard(c *Cycle) {
	if c.Run == "" {
		return
	}
	if w.clean(c.Run) && (c.Superseded || c.interrupted) {
		_ = run.Remove(w.stateDir, c.Run)
	}
}

// clean removes the names run id still owns, with the engine and cluster
// found at the start; it runs even after Ctrl-C (bounded), so that the
// watch leaves one run behind. It reports whether that went without error.
func (w *watcher) clean(id string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	recs, err := run.Records(w.stateDir)
	if err == nil {
		w.envMu.Lock()
		env := w.env
		w.envMu.Unlock()
		var cs []*kind.Cluster
		if env.Cluster != nil {
			cs = append(cs, env.Cluster)
		}
		_, err = inventory.Clean(ctx, env.Engine, cs, recs, id, false)
	}
	if err != nil {
		w.printf("watch: cleaning run %s: %v\n", id, err)
		return false
	}
	return true
}

// errorf writes a build failure's report to Options.Err.
func (w *watcher) errorf(format string, a ...any) {
	if w.o.Err == nil {
		return
	}
	w.outMu.Lock()
	defer w.outMu.Unlock()
	fmt.Fprintf(w.o.Err, format, a...)
}

func (w *watcher) printf(format string, a ...any) {
	if w.o.Out == nil {
		return
	}
	w.outMu.Lock()
	defer w.outMu.Unlock()
	fmt.Fprintf(w.o.Out, format, a...)
}

// report prints the cycle's line and hands it to OnCycle.
func (w *watcher) report(c *Cycle) {
	w.printf("%s\n", w.line(c))
	if w.o.OnCycle != nil {
		w.o.OnCycle(*c)
	}
}

// line is "#3 changed a.go, b.go; rebuilt api; 4.2s to image on nodes (run R)".
func (w *watcher) line(c *Cycle) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d ", c.Seq)
	if c.Seq == 1 || len(c.Changed) == 0 {
		b.WriteString("start")
	} else {
		b.WriteString("changed " + w.files(c.Changed))
	}
	switch {
	case c.Superseded:
		b.WriteString("; superseded by newer edits, discarded")
	case len(c.Failed) > 0:
		fmt.Fprintf(&b, "; failed %s (kept the last good images)", strings.Join(c.Failed, ", "))
	case c.Err != nil:
		fmt.Fprintf(&b, "; failed: %s", strings.ReplaceAll(c.Err.Error(), "\n", "; "))
	default:
		rebuilt := "nothing"
		if len(c.Rebuilt) > 0 {
			rebuilt = strings.Join(c.Rebuilt, ", ")
		}
		fmt.Fprintf(&b, "; rebuilt %s; reused %d; %s to %s", rebuilt, len(c.Reused), c.Took.Round(10*time.Millisecond), w.where())
	}
	if c.Run != "" {
		fmt.Fprintf(&b, " (run %s)", c.Run)
	}
	return b.String()
}

// where says where images went, for the cycle line.
func (w *watcher) where() string {
	var places []string
	if w.o.Build.Kind != nil {
		places = append(places, "image on nodes")
	}
	if w.o.Build.Push {
		places = append(places, "pushed")
	}
	if len(places) == 0 {
		return "image in the engine"
	}
	return strings.Join(places, " and ")
}

// files is the changed files, at most three.
func (w *watcher) files(fs []string) string {
	if len(fs) > 3 {
		return fmt.Sprintf("%s (+%d more)", strings.Join(fs[:3], ", "), len(fs)-3)
	}
	return strings.Join(fs, ", ")
}

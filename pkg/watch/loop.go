package watch

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline"
	"github.com/slipway-dev/slipway/pkg/inputs"
)

// Cycle is one round of the watch: the files that changed, the build and
// delivery of the services they touched, and how long that took.
type Cycle struct {
	// Seq numbers the cycles of one watch from 1 (the first builds what is
	// there when the watch starts).
	Seq int
	// Changed are the files whose events led to this cycle, relative to
	// the repository; empty for the first cycle.
	Changed []string
	// First is the first of those events (for the first cycle: the start).
	First time.Time
	// Services are those whose inputs changed since the last kept cycle.
	Services []string
	// Rebuilt and Reused say what the build did with each service; Refs
	// is every selected service's image, for --exec.
	Rebuilt, Reused []string
	Refs            map[string]string
	// Run is the run this cycle's build made ("" if it never started).
	Run string
	// Took is from First until every image was built and delivered.
	Took time.Duration
	// Superseded is set when newer edits made this cycle stale: its build
	// was cancelled, or its result discarded, and its images removed.
	Superseded bool
	// Failed are the services whose build or delivery failed; Err is why
	// the cycle failed (nil when it succeeded or was superseded).
	Failed []string
	Err    error

	digests     map[string]string // what this cycle builds
	hasher      *inputs.Hasher    // what computed them; the build reuses its walks
	res         *pipeline.Result  // what the build made
	interrupted bool              // the watch ended during it
}

// snapshot is the input digests of the selected services at one moment.
type snapshot struct {
	services []string
	digests  map[string]string
	hasher   *inputs.Hasher
}

// loop is the watch's scheduler, apart from files and engines so that its
// rules (debounce, one cycle at a time, a stale cycle never kept) can be
// tested with fakes.
type loop struct {
	// debounce is the quiet time after an event before a cycle starts;
	// maxWait bounds the wait while events keep coming.
	debounce, maxWait time.Duration
	events            <-chan change
	// exists reports whether a changed path still exists (nil: assume so).
	exists func(path string) bool
	// snap returns the current digests.
	snap func(ctx context.Context) (snapshot, error)
	// cycle builds and delivers; it fills in c's Run, Rebuilt, Reused, Refs.
	cycle func(ctx context.Context, c *Cycle) error
	// keep is called for a cycle that succeeded and is the newest, after
	// report: it runs --exec and retires older runs. discard removes what a
	// superseded, failed or interrupted cycle made, before report.
	keep    func(ctx context.Context, c *Cycle)
	discard func(c *Cycle)
	// report gets every finished cycle, after keep or discard, and every
	// error that does not end the watch.
	report func(c *Cycle)
	warn   func(err error)
	// fatal reports a cycle error that ends the watch (bad input: no later
	// edit of a source file can fix it).
	fatal func(err error) bool
}

// running is the cycle under way.
type running struct {
	c      *Cycle
	cancel context.CancelFunc
	done   chan error
}

// pending is what changed since the last cycle started.
type pending struct {
	files map[string]bool // path -> it did not exist before this burst
	first time.Time
}

func (p *pending) add(c change) {
	if p.files == nil {
		p.files = map[string]bool{}
	}
	if p.first.IsZero() || c.at.Before(p.first) {
		p.first = c.at
	}
	if c.path != "" {
		if _, seen := p.files[c.path]; !seen {
			p.files[c.path] = c.created
		}
	}
}

// changed lists the burst's files, without those it created and removed
// again (an editor's or sed's temporary file), which no build ever saw.
func (p *pending) changed(exists func(string) bool) []string {
	var out []string
	for f, created := range p.files {
		if created && exists != nil && !exists(f) {
			continue
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		// Only temporary files: the edit they made landed after the
		// quiet time (a slow machine); name them rather than nothing.
		out = slices.Collect(maps.Keys(p.files))
	}
	slices.Sort(out)
	return out
}

func (p *pending) empty() bool { return len(p.files) == 0 && p.first.IsZero() }

// run builds once, then once per debounced burst of changes, until ctx
// ends; it returns ctx's cause.
func (l *loop) run(ctx context.Context) error {
	var (
		kept      map[string]string // digests of the last kept cycle
		keptSeq   int
		seq       int
		cur       *running
		pend      = pending{first: time.Now()} // the first cycle: build what is there
		ready     = true                       // pend is due (debounced)
		timer     = time.NewTimer(time.Hour)
		deadline  time.Time
		carryOver pending // the changes of superseded cycles, reported by the next
	)
	timer.Stop()
	defer timer.Stop()

	// settle compares the current digests with what is built (or being
	// built): unchanged drops the burst; changed cancels a stale build or
	// starts a cycle.
	settle := func() {
		ready = false
		snap, err := l.snap(ctx)
		if err != nil {
			if ctx.Err() == nil {
				l.warn(err)
			}
			pend = pending{}
			return
		}
		base := kept
		if cur != nil {
			base = cur.c.digests
		}
		changed := changedServices(snap.services, base, snap.digests)
		if first := kept == nil && cur == nil; !first && len(changed) == 0 && sameServices(base, snap.digests) {
			pend = pending{} // nothing a build can see changed
			return
		}
		if cur != nil {
			// Newer edits: the build under way is stale. Cancel it; the
			// next cycle starts when it has returned and been undone.
			cur.c.Superseded = true
			cur.cancel()
			ready = true
			return
		}
		seq++
		c := &Cycle{Seq: seq, First: pend.first, Changed: pend.changed(l.exists),
			Services: changedServices(snap.services, kept, snap.digests), digests: snap.digests, hasher: snap.hasher}
		if !carryOver.empty() {
			for f := range carryOver.files {
				if !slices.Contains(c.Changed, f) {
					c.Changed = append(c.Changed, f)
				}
			}
			slices.Sort(c.Changed)
			if carryOver.first.Before(c.First) {
				c.First = carryOver.first
			}
			carryOver = pending{}
		}
		pend = pending{}
		cctx, cancel := context.WithCancel(ctx)
		cur = &running{c: c, cancel: cancel, done: make(chan error, 1)}
		go func(r *running) { r.done <- l.cycle(cctx, r.c) }(cur)
	}

	for {
		if ready && cur == nil {
			settle()
			continue
		}
		var done chan error
		if cur != nil {
			done = cur.done
		}
		select {
		case <-ctx.Done():
			if cur != nil {
				cur.cancel()
				err := <-cur.done
				cur.c.Err = errors.Join(err, context.Cause(ctx))
				cur.c.interrupted = true
				l.discard(cur.c)
				l.report(cur.c)
			}
			return context.Cause(ctx)
		case ch := <-l.events:
			if pend.empty() {
				deadline = ch.at.Add(l.maxWait)
			}
			pend.add(ch)
			wait := min(l.debounce, max(time.Until(deadline), 0))
			timer.Reset(wait)
		case <-timer.C:
			if pend.empty() {
				continue
			}
			// During a build, only a change of digests cancels it.
			settle()
		case err := <-done:
			c := cur.c
			cur.cancel()
			cur = nil
			c.Took = time.Since(c.First)
			switch {
			case c.Superseded || c.Seq <= keptSeq:
				// Never keep a stale result, even one whose build ignored
				// the cancel and finished: a newer cycle comes next.
				c.Superseded = true
				carryOver.add(change{at: c.First})
				for _, f := range c.Changed {
					carryOver.add(change{path: f, at: c.First})
				}
				l.discard(c)
			case err != nil:
				c.Err = err
				l.discard(c)
				if l.fatal != nil && l.fatal(err) {
					l.report(c)
					return err
				}
			default:
				// The line first: the images are on the nodes now; --exec
				// and retiring the older run come after.
				kept, keptSeq = c.digests, c.Seq
				l.report(c)
				l.keep(ctx, c)
				continue
			}
			l.report(c)
		}
	}
}

// sameServices reports whether a and b hold the same services.
func sameServices(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

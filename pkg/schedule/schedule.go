// Package schedule runs a dependency graph of tasks in parallel, at most N
// at a time, each after the tasks it depends on have succeeded.
package schedule

import (
	"context"
	"errors"
	"sync"

	"github.com/slipway-dev/slipway/pkg/slots"
)

// Status is how a task ended.
type Status string

const (
	Done      Status = "done"
	Failed    Status = "failed"
	Cancelled Status = "cancelled" // never started, or stopped, because the run was cancelled
	Skipped   Status = "skipped"   // a dependency failed
)

// ErrDependency is the error of a task skipped because a dependency failed.
var ErrDependency = errors.New("a dependency failed")

// Task is one node of the graph.
type Task struct {
	Name string
	Deps []string
	// Pre, if set, runs once the dependencies are done and before a slot is
	// taken; done means the task needs no slot and no Run (nothing changed).
	Pre func(ctx context.Context) (done bool, err error)
	Run func(ctx context.Context) error
}

// Options bound a run.
type Options struct {
	// Slots bounds how many tasks run at once; nil means no bound.
	Slots     slots.Slots
	KeepGoing bool // when false, the first failure cancels every other task
	// Waiting, if set, is called when a ready task has to wait for a slot.
	Waiting func(name string)
}

// Outcome is how one task ended.
type Outcome struct {
	Status Status
	Err    error
}

// Run executes tasks and returns each one's outcome. Deps must name tasks in
// the list and form no cycle (the config package checks this).
func Run(ctx context.Context, tasks []Task, o Options) map[string]Outcome {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	sl := o.Slots
	if sl == nil {
		sl = slots.Unlimited{}
	}
	done := make(map[string]chan struct{}, len(tasks))
	for _, t := range tasks {
		done[t.Name] = make(chan struct{})
	}
	var mu sync.Mutex
	out := make(map[string]Outcome, len(tasks))
	set := func(name string, oc Outcome) {
		mu.Lock()
		out[name] = oc
		mu.Unlock()
		close(done[name])
	}
	get := func(name string) Outcome {
		mu.Lock()
		defer mu.Unlock()
		return out[name]
	}

	fail := func(name string, err error) {
		set(name, Outcome{Failed, err})
		if !o.KeepGoing {
			cancel()
		}
	}

	var wg sync.WaitGroup
	for _, t := range tasks {
		wg.Add(1)
		go func(t Task) {
			defer wg.Done()
			for _, d := range t.Deps {
				select {
				case <-done[d]:
				case <-ctx.Done():
					set(t.Name, Outcome{Cancelled, context.Cause(ctx)})
					return
				}
				if get(d).Status != Done {
					set(t.Name, Outcome{Skipped, ErrDependency})
					return
				}
			}
			if t.Pre != nil {
				done, err := t.Pre(ctx)
				if err == nil && done {
					set(t.Name, Outcome{Status: Done})
					return
				}
				if err != nil {
					fail(t.Name, err)
					return
				}
			}
			var wait func()
			if o.Waiting != nil {
				wait = func() { o.Waiting(t.Name) }
			}
			release, err := sl.Acquire(ctx, wait)
			if err != nil {
				set(t.Name, Outcome{Cancelled, err})
				return
			}
			defer release()
			if ctx.Err() != nil {
				set(t.Name, Outcome{Cancelled, context.Cause(ctx)})
				return
			}
			err = t.Run(ctx)
			switch {
			case err == nil:
				set(t.Name, Outcome{Status: Done})
			case ctx.Err() != nil:
				// Stopped because another task failed or the caller cancelled.
				set(t.Name, Outcome{Cancelled, err})
			default:
				fail(t.Name, err)
			}
		}(t)
	}
	wg.Wait()
	return out
}

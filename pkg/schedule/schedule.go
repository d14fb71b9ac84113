// Package schedule runs a dependency graph of tasks in parallel, each after
// the tasks it depends on have succeeded. How many run at once is the
// tasks' business (build.Limiter), not the graph's.
package schedule

import (
	"context"
	"errors"
	"sync"
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
	Run  func(ctx context.Context) error
}

// Options bound a run.
type Options struct {
	KeepGoing bool // when false, the first failure cancels every other task
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
			if ctx.Err() != nil {
				set(t.Name, Outcome{Cancelled, context.Cause(ctx)})
				return
			}
			err := t.Run(ctx)
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

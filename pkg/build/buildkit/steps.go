package buildkit

import (
	"sync"

	"github.com/moby/buildkit/client"

	"github.com/slipway-dev/slipway/pkg/build"
)

// stepTracker turns BuildKit's status stream into build steps: each
// vertex once, in the order it first appeared, with its latest state.
type stepTracker struct {
	on func(build.Step) // hears a step when it starts and when it ends

	mu    sync.Mutex
	order []string
	steps map[string]*build.Step
}

// update takes one status message.
func (t *stepTracker) update(st *client.SolveStatus) {
	var changed []build.Step
	t.mu.Lock()
	if t.steps == nil {
		t.steps = map[string]*build.Step{}
	}
	for _, v := range st.Vertexes {
		if v == nil {
			continue
		}
		id := v.Digest.String()
		s := t.steps[id]
		if s == nil {
			s = &build.Step{ID: id}
			t.steps[id] = s
			t.order = append(t.order, id)
		}
		before := *s
		if v.Name != "" {
			s.Name = v.Name
		}
		s.Cached = s.Cached || v.Cached
		if v.Started != nil && s.Started.IsZero() {
			s.Started = *v.Started
		}
		if v.Completed != nil {
			s.Completed = *v.Completed
		}
		if v.Error != "" {
			s.Error = v.Error
		}
		startedNow := before.Started.IsZero() && !s.Started.IsZero()
		endedNow := !before.Done() && s.Done() || before.Cached != s.Cached && s.Done()
		if t.on != nil && (startedNow || endedNow) {
			changed = append(changed, *s)
		}
	}
	t.mu.Unlock()
	for _, s := range changed {
		t.on(s)
	}
}

// list is every step seen, in order.
func (t *stepTracker) list() []build.Step {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]build.Step, 0, len(t.order))
	for _, id := range t.order {
		out = append(out, *t.steps[id])
	}
	return out
}

// failed names the step that failed (the last with an error; BuildKit
// marks the cancelled siblings of a failure too, but those come after),
// or "".
func (t *stepTracker) failed() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	name := ""
	for _, id := range t.order {
		s := t.steps[id]
		if s.Error != "" && !isCancel(s.Error) {
			return s.Name
		}
		if s.Error != "" && name == "" {
			name = s.Name
		}
	}
	return name
}

func isCancel(msg string) bool {
	return msg == "context canceled" || msg == "canceled"
}

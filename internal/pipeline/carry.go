package pipeline

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/clusters"
	"github.com/slipway-dev/slipway/internal/plan"
	"github.com/slipway-dev/slipway/pkg/inputs"
	"github.com/slipway-dev/slipway/pkg/kind"
	"github.com/slipway-dev/slipway/pkg/progress"
	"github.com/slipway-dev/slipway/pkg/run"
)

// Cycle is what one build of a series (a watch's cycles) takes over from
// the builds before it, so that a cycle costs what changed, not what the
// repository holds.
type Cycle struct {
	// Env is the engine, cluster and Git state, found once (see Setup).
	Env *plan.Env
	// Hasher, if set, computes the input digests: the caller's, whose
	// walks of the contexts this moment are then not done again.
	Hasher *inputs.Hasher
	// Carry are images of an earlier run, by service, that this run takes
	// over as they are: recorded under their existing names, so this run
	// owns those names from now on and cleaning the earlier run leaves
	// them, but neither built, re-tagged nor sent to a node again. A
	// service that depends on one that is not carried is built; and if any
	// carried image is gone from the engine, or its name no longer fits the
	// config, nothing is carried (the run then reuses or builds each one).
	Carry map[string]Carried
}

// Carried is one image an earlier run made, as Cycle.Carry takes it over.
type Carried struct {
	Ref, Tag, ID, Inputs, Pushed string
	Tagged                       time.Time
	// Kind is where the earlier run loaded it, if anywhere.
	Kind *clusters.Loaded
}

// CarryOf returns img as a later run would carry it; false when img holds
// no image (failed, cancelled, skipped) or was borrowed (Options.ReuseTag:
// not ours to hand on).
func CarryOf(img *Image) (Carried, bool) {
	if img == nil || !img.Status.Produced() || img.Err != nil || img.Borrowed || img.ID == "" {
		return Carried{}, false
	}
	return Carried{Ref: img.Ref, Tag: img.Tag, ID: img.ID, Inputs: img.Inputs, Pushed: img.Pushed, Tagged: img.Tagged, Kind: img.Kind}, true
}

// Setup checks o as Build would and finds the engine, cluster and Git
// state, for Cycle.Env.
func Setup(ctx context.Context, o Options) (*plan.Env, error) {
	p, err := plan.Prepare(ctx, o.input(), true)
	if err != nil {
		return nil, err
	}
	return p.Env(), nil
}

// BuildCycle is Build with what cy takes over from earlier builds.
func BuildCycle(ctx context.Context, o Options, cy Cycle) (*Result, error) {
	return buildRun(ctx, o, cy)
}

// carryable is the part of cy.Carry this plan can take over: every
// selected service whose dependencies are all carried too, and nothing at
// all when one carried image is gone from the engine or misnamed. One
// engine call checks them all.
func (cy Cycle) carryable(ctx context.Context, p *plan.Plan) map[string]Carried {
	if len(cy.Carry) == 0 || p.NoCache || p.PushOnly() || p.ReuseTag != "" {
		return nil
	}
	out := map[string]Carried{}
	for _, s := range p.Services {
		if c, ok := cy.Carry[s]; ok {
			out[s] = c
		}
	}
	for changed := true; changed; {
		changed = false
		for s := range out {
			for _, d := range p.Cfg.Services[s].DependsOn {
				if _, ok := out[d]; !ok && slices.Contains(p.Services, d) {
					delete(out, s)
					changed = true
				}
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	refs := make([]string, 0, len(out))
	for s, c := range out {
		name, err := p.ImageName(s)
		if err != nil || c.Ref != (plan.Ref{Name: name, Tag: c.Tag}).String() {
			return nil
		}
		refs = append(refs, c.Ref)
	}
	have, err := p.Eng.InspectSome(ctx, refs...)
	if err != nil {
		return nil
	}
	for _, c := range out {
		if im := have[c.Ref]; im == nil || im.ID != c.ID {
			return nil
		}
	}
	return out
}

// assignRefs gives the services that are built new names, and the carried
// ones their old names.
func assignRefs(ctx context.Context, p *plan.Plan, carry map[string]Carried, stateDir, runID string, now time.Time) error {
	if len(carry) == 0 {
		return p.AssignRefs(ctx, stateDir, runID, now)
	}
	all := p.Services
	p.Services = slices.DeleteFunc(slices.Clone(all), func(s string) bool { _, ok := carry[s]; return ok })
	err := p.AssignRefs(ctx, stateDir, runID, now)
	p.Services = all
	if err != nil {
		return err
	}
	for s, c := range carry {
		p.Refs[s] = plan.Ref{Name: strings.TrimSuffix(c.Ref, ":"+c.Tag), Tag: c.Tag}
	}
	return nil
}

// carried records img as taken over from an earlier run: nothing is done
// to it, in the engine or on a node.
func (rn *runner) carried(img *Image, c Carried) {
	now := time.Now()
	img.ID, img.Inputs, img.Pushed, img.Status = c.ID, c.Inputs, c.Pushed, run.Reused
	img.Started, img.Tagged = now, c.Tagged
	img.Borrowed = true // until the run succeeds: see takeOver
	if c.Kind != nil {
		// Still on each node it reached, under this name: present.
		l := *c.Kind
		l.Duration, l.Err = 0, nil
		l.Nodes = maps.Clone(l.Nodes)
		for n := range l.Nodes {
			l.Nodes[n] = kind.Present
		}
		img.Kind = &l
	}
	rn.rec.save(img)
	rn.rep.Event(progress.Event{Time: now, Service: img.Service, State: progress.Reused, Ref: img.Ref})
}

// takeOver makes a run that succeeded the owner of the names it carried:
// until then they are recorded as borrowed, so that a run that fails, is
// interrupted or dies never claims them, and cleaning it leaves them.
func takeOver(res *Result, carry map[string]Carried, state run.State) {
	if state != run.Done {
		return
	}
	for s := range carry {
		res.Images[s].Borrowed = false
	}
}

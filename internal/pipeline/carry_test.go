package pipeline

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/fixture"
	"github.com/slipway-dev/slipway/pkg/progress"
	"github.com/slipway-dev/slipway/pkg/run"
)

// Unit tests of what a watch cycle carries over: only what the engine still
// holds under the same name, never a dependent of something rebuilt, and a
// carried name becomes the run's own only when the run succeeds.

// carryFixture is api, web (FROM api) and db, each with an earlier run's
// image in the engine.
func carryFixture(t *testing.T) (*pipeFixture, map[string]Carried) {
	f := newFixture(t, "  web:\n    depends_on: [api]\n  db: {}\n")
	f.p.Services = []string{"api", "web", "db"}
	carry := map[string]Carried{}
	for _, s := range f.p.Services {
		name, err := f.p.ImageName(s)
		if err != nil {
			t.Fatal(err)
		}
		c := Carried{Ref: name + ":old", Tag: "old", ID: "sha256:" + s}
		f.Eng.Add(c.ID, fixture.Labels(s, "r0", c.Ref), c.Ref)
		carry[s] = c
	}
	return f, carry
}

func TestCarryable(t *testing.T) {
	ctx := context.Background()
	t.Run("a dependent of a rebuilt service is rebuilt", func(t *testing.T) {
		f, carry := carryFixture(t)
		delete(carry, "api")
		got := Cycle{Carry: carry}.carryable(ctx, f.p)
		if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{"db"}) {
			t.Fatalf("carried %v, want [db]", keys)
		}
	})
	t.Run("everything unchanged is carried", func(t *testing.T) {
		f, carry := carryFixture(t)
		if got := (Cycle{Carry: carry}).carryable(ctx, f.p); len(got) != 3 {
			t.Fatalf("carried %v", slices.Sorted(maps.Keys(got)))
		}
	})
	t.Run("an image gone from the engine carries nothing", func(t *testing.T) {
		f, carry := carryFixture(t)
		c := carry["db"]
		c.ID = "sha256:other" // the name now points elsewhere
		carry["db"] = c
		if got := (Cycle{Carry: carry}).carryable(ctx, f.p); got != nil {
			t.Fatalf("carried %v", slices.Sorted(maps.Keys(got)))
		}
	})
	t.Run("a name the config no longer gives carries nothing", func(t *testing.T) {
		f, carry := carryFixture(t)
		c := carry["db"]
		c.Ref = "localhost/renamed-db:old"
		carry["db"] = c
		f.Eng.Add(c.ID, fixture.Labels("db", "r0", c.Ref), c.Ref)
		if got := (Cycle{Carry: carry}).carryable(ctx, f.p); got != nil {
			t.Fatalf("carried %v", slices.Sorted(maps.Keys(got)))
		}
	})
	t.Run("--no-cache carries nothing", func(t *testing.T) {
		f, carry := carryFixture(t)
		f.p.NoCache = true
		if got := (Cycle{Carry: carry}).carryable(ctx, f.p); got != nil {
			t.Fatalf("carried %v", slices.Sorted(maps.Keys(got)))
		}
	})
}

func TestCarriedNames(t *testing.T) {
	ctx := context.Background()
	f, carry := carryFixture(t)
	delete(carry, "api")
	delete(carry, "web")
	f.Start("r1")
	if err := assignRefs(ctx, f.p, carry, f.State, "r1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := f.p.Refs["db"]; got.String() != carry["db"].Ref {
		t.Errorf("db named %s, want its carried name %s", got, carry["db"].Ref)
	}
	for _, s := range []string{"api", "web"} {
		if got := f.p.Refs[s]; got.Tag == "old" || got.Tag == "" {
			t.Errorf("%s named %s, want a new name", s, got)
		}
	}
	if !slices.Equal(f.p.Services, []string{"api", "web", "db"}) {
		t.Errorf("services now %v", f.p.Services)
	}

	// Recorded as borrowed while the run goes, its own once it succeeded.
	for _, state := range []run.State{run.RunFailed, run.Interrupted, run.Done} {
		rn := &runner{plan: f.p, rec: &recorder{run: f.Start("r-" + string(state))}, rep: progress.Nop{}}
		res := &Result{Images: map[string]*Image{"db": {Service: "db", Ref: carry["db"].Ref, timing: &timing{}}}}
		rn.carried(res.Images["db"], carry["db"])
		takeOver(res, carry, state)
		img := res.Images["db"]
		if want := state != run.Done; img.Borrowed != want {
			t.Errorf("run %s: borrowed %v, want %v", state, img.Borrowed, want)
		}
		if img.Status != run.Reused || img.ID != carry["db"].ID {
			t.Errorf("run %s: carried as %s %s", state, img.Status, img.ID)
		}
	}
}

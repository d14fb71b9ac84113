package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/fixture"
	"github.com/slipway-dev/slipway/internal/labels"
	"github.com/slipway-dev/slipway/internal/plan"
	"github.com/slipway-dev/slipway/pkg/inputs"
	"github.com/slipway-dev/slipway/pkg/progress"
	"github.com/slipway-dev/slipway/pkg/run"
)

// Unit tests of reuse against an in-memory engine: an image is re-tagged
// only when it is this user's and its inputs are exactly the build's.

type pipeFixture struct {
	*fixture.Repo
	p *plan.Plan
}

func newFixture(t *testing.T, extra string) *pipeFixture {
	r := fixture.New(t, extra)
	return &pipeFixture{Repo: r, p: &plan.Plan{Cfg: r.Cfg, Services: []string{"api"}, Eng: r.Eng, User: fixture.Me, Source: r.Cfg.Dir}}
}

// reuseRunner is a runner over the fixture with one image to decide on.
func (f *pipeFixture) reuseRunner(id string) (*runner, *Image) {
	f.T.Helper()
	r := f.Start(id)
	if err := f.p.AssignRefs(context.Background(), f.State, id, time.Now()); err != nil {
		f.T.Fatal(err)
	}
	refs := f.p.Refs
	img := &Image{Service: "api", Ref: refs["api"].String(), Tag: refs["api"].Tag, Status: run.Queued}
	return &runner{plan: f.p, rec: &recorder{run: r}, rep: progress.Nop{}, runID: id, now: time.Now(), hasher: inputs.NewHasher()}, img
}

// digest is what the fixture's service hashes to under the plan as it is.
func (f *pipeFixture) digest() string {
	f.T.Helper()
	rn, img := f.reuseRunner("probe")
	f.p.NoCache = true
	defer func() { f.p.NoCache = false }()
	if _, err := rn.reuse(context.Background(), img, map[string]*Image{"api": img}); err != nil || img.Inputs == "" {
		f.T.Fatalf("digest: %v", err)
	}
	return img.Inputs
}

func TestReuse(t *testing.T) {
	ctx := context.Background()
	t.Run("own image with the same inputs is re-tagged", func(t *testing.T) {
		f := newFixture(t, "")
		l := fixture.Labels("api", "r0", "localhost/demo-api:old")
		l[labels.Inputs] = f.digest()
		f.Eng.Add("sha256:old", l, "localhost/demo-api:old")
		rn, img := f.reuseRunner("r1")
		done, err := rn.reuse(ctx, img, map[string]*Image{"api": img})
		if err != nil || !done || img.Status != run.Reused || img.ID != "sha256:old" || img.Borrowed || img.Tagged.IsZero() {
			t.Fatalf("done %v err %v img %+v", done, err, img)
		}
		if !f.Eng.Has(img.Ref, "sha256:old") {
			t.Fatal("not re-tagged")
		}
	})
	t.Run("another user's image is never reused", func(t *testing.T) {
		f := newFixture(t, "")
		l := fixture.Labels("api", "r0", "localhost/demo-api:old")
		l[labels.Inputs], l[labels.User] = f.digest(), "bob"
		f.Eng.Add("sha256:old", l, "localhost/demo-api:old")
		rn, img := f.reuseRunner("r1")
		if done, _ := rn.reuse(ctx, img, map[string]*Image{"api": img}); done {
			t.Fatal("reused bob's image")
		}
	})
	t.Run("a change of --platform is a change of inputs", func(t *testing.T) {
		f := newFixture(t, "")
		f.p.Platforms = []string{"linux/386"}
		l := fixture.Labels("api", "r0", "localhost/demo-api:386")
		l[labels.Inputs] = f.digest()
		f.Eng.Add("sha256:386", l, "localhost/demo-api:386")
		f.p.Platforms = nil
		rn, img := f.reuseRunner("r1")
		if done, _ := rn.reuse(ctx, img, map[string]*Image{"api": img}); done {
			t.Fatal("the linux/386 image was reused for the default platform")
		}
	})
	t.Run("a changed file is a change of inputs", func(t *testing.T) {
		f := newFixture(t, "")
		l := fixture.Labels("api", "r0", "localhost/demo-api:old")
		l[labels.Inputs] = f.digest()
		f.Eng.Add("sha256:old", l, "localhost/demo-api:old")
		os.WriteFile(filepath.Join(f.p.Cfg.Dir, "app.txt"), []byte("v2\n"), 0o644)
		rn, img := f.reuseRunner("r1")
		if done, _ := rn.reuse(ctx, img, map[string]*Image{"api": img}); done {
			t.Fatal("reused after app.txt changed")
		}
	})
	t.Run("--no-cache never reuses", func(t *testing.T) {
		f := newFixture(t, "")
		l := fixture.Labels("api", "r0", "localhost/demo-api:old")
		l[labels.Inputs] = f.digest()
		f.Eng.Add("sha256:old", l, "localhost/demo-api:old")
		f.p.NoCache = true
		rn, img := f.reuseRunner("r1")
		if done, _ := rn.reuse(ctx, img, map[string]*Image{"api": img}); done {
			t.Fatal("reused with --no-cache")
		}
	})
	t.Run("--reuse TAG borrows", func(t *testing.T) {
		f := newFixture(t, "")
		f.Eng.Add("sha256:ci", fixture.Labels("api", "ci", "localhost/demo-api:ci-1"), "localhost/demo-api:ci-1")
		f.p.ReuseTag = "ci-1"
		rn, img := f.reuseRunner("r1")
		done, _ := rn.reuse(ctx, img, map[string]*Image{"api": img})
		if !done || !img.Borrowed || img.Ref != "localhost/demo-api:ci-1" {
			t.Fatalf("borrow: done %v %+v", done, img)
		}
	})
}

package slipway

// Unit tests of the rules that decide which tag a run gets, what it reuses
// and what a clean or prune removes, against an in-memory engine
// (enginefake): no daemon, milliseconds each. The same rules meet the real
// engine in test/integration.

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/inventory"
	"github.com/slipway-dev/slipway/pkg/config"
	"github.com/slipway-dev/slipway/pkg/engine/enginefake"
	"github.com/slipway-dev/slipway/pkg/inputs"
	"github.com/slipway-dev/slipway/pkg/progress"
	"github.com/slipway-dev/slipway/pkg/run"
	"github.com/slipway-dev/slipway/pkg/tag"
)

const testBase = "slipway.local/base/debian:bookworm"

// me is the user the tag template names: the one running the test.
var me = tag.CurrentUser()

// fixture is a one-service repository, a fake engine holding its base
// image, a state folder and a plan for user alice.
type fixture struct {
	t     *testing.T
	eng   *enginefake.Engine
	state string
	p     *plan
}

func newFixture(t *testing.T, extra string) *fixture {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM "+testBase+"\nCOPY app.txt /app.txt\n")
	write("app.txt", "v1\n")
	write("slipway.yaml", "project: demo\nservices:\n  api: {}\n"+extra)
	cfg, err := config.Load(filepath.Join(dir, "slipway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	eng := enginefake.New()
	eng.Add("sha256:base", nil, testBase)
	return &fixture{t: t, eng: eng, state: t.TempDir(),
		p: &plan{cfg: cfg, services: []string{"api"}, eng: eng, user: me, git: tag.Git{}, source: dir}}
}

// start opens a run (holding its lock until the test ends or close is called).
func (f *fixture) start(id string) *run.Run {
	f.t.Helper()
	r, err := run.Start(f.state, run.Record{Run: id, Project: "demo", User: me, Engine: "docker", Started: time.Now()})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(r.Close)
	return r
}

func (f *fixture) refs(runID string, now time.Time) map[string]Ref {
	f.t.Helper()
	if err := f.p.assignRefs(context.Background(), f.state, runID, now); err != nil {
		f.t.Fatal(err)
	}
	return f.p.refs
}

func ours(service, run, ref string) map[string]string {
	return map[string]string{LabelUser: me, LabelProject: "demo", LabelService: service, LabelRun: run, LabelRef: ref}
}

func TestAssignRefs(t *testing.T) {
	now := time.Unix(1734278400, 0)
	t.Run("free", func(t *testing.T) {
		f := newFixture(t, "")
		f.start("r1")
		if got := f.refs("r1", now)["api"].Tag; got != "api-"+me+"-nogit-1734278400" {
			t.Fatalf("tag %s", got)
		}
	})
	t.Run("taken by a foreign image gets a suffix", func(t *testing.T) {
		f := newFixture(t, "")
		f.eng.Add("sha256:x", nil, "localhost/demo-api:api-"+me+"-nogit-1734278400")
		f.start("r1")
		if got := f.refs("r1", now)["api"].Tag; got != "api-"+me+"-nogit-1734278400-2" {
			t.Fatalf("tag %s", got)
		}
	})
	t.Run("per-run template never takes over even its own image", func(t *testing.T) {
		f := newFixture(t, "")
		f.eng.Add("sha256:x", ours("api", "r0", ""), "localhost/demo-api:api-"+me+"-nogit-1734278400")
		f.start("r1")
		if got := f.refs("r1", now)["api"].Tag; !strings.HasSuffix(got, "-2") {
			t.Fatalf("tag %s", got)
		}
	})
	t.Run("stable template takes over its own image", func(t *testing.T) {
		f := newFixture(t, "tag: \"{{.Service}}-{{.GitShort}}\"\n")
		f.eng.Add("sha256:x", ours("api", "r0", ""), "localhost/demo-api:api-nogit")
		f.start("r1")
		if got := f.refs("r1", now)["api"].Tag; got != "api-nogit" {
			t.Fatalf("tag %s, want the stable api-nogit", got)
		}
	})
	t.Run("stable template never takes over another user's image", func(t *testing.T) {
		f := newFixture(t, "tag: \"{{.Service}}-{{.GitShort}}\"\n")
		bob := ours("api", "r0", "")
		bob[LabelUser] = "bob"
		f.eng.Add("sha256:x", bob, "localhost/demo-api:api-nogit")
		f.start("r1")
		if got := f.refs("r1", now)["api"].Tag; got != "api-nogit-2" {
			t.Fatalf("tag %s", got)
		}
	})
	t.Run("a live run's claim binds, an ended one's does not", func(t *testing.T) {
		f := newFixture(t, "tag: \"{{.Service}}-{{.GitShort}}\"\n")
		a := f.start("r1")
		f.refs("r1", now)
		f.start("r2")
		if got := f.refs("r2", now)["api"].Tag; got != "api-nogit-2" {
			t.Fatalf("tag %s while r1 runs", got)
		}
		a.Close()
		f.start("r3")
		if got := f.refs("r3", now)["api"].Tag; got != "api-nogit" {
			t.Fatalf("tag %s after r1 ended", got)
		}
	})
	t.Run("fixed tag", func(t *testing.T) {
		f := newFixture(t, "")
		f.p.fixedTag = "dev"
		f.eng.Add("sha256:x", nil, "localhost/demo-api:dev")
		f.start("r1")
		err := f.p.assignRefs(context.Background(), f.state, "r1", now)
		if !IsUsage(err) || !strings.Contains(err.Error(), "refusing to overwrite") {
			t.Fatalf("fixed tag over a foreign image: %v", err)
		}
		f.eng.Add("sha256:y", ours("api", "r0", ""), "localhost/demo-api:dev")
		if got := f.refs("r1", now)["api"].Tag; got != "dev" {
			t.Fatalf("fixed tag over own image: %s", got)
		}
	})
}

// reuseRunner is a runner over the fixture with one image to decide on.
func (f *fixture) reuseRunner(id string) (*runner, *Image) {
	f.t.Helper()
	r := f.start(id)
	refs := f.refs(id, time.Now())
	img := &Image{Service: "api", Ref: refs["api"].String(), Tag: refs["api"].Tag, Status: run.Queued}
	return &runner{plan: f.p, rec: &recorder{run: r}, rep: progress.Nop{}, runID: id, now: time.Now(), hasher: inputs.NewHasher()}, img
}

// digest is what the fixture's service hashes to under the plan as it is.
func (f *fixture) digest() string {
	f.t.Helper()
	rn, img := f.reuseRunner("probe")
	f.p.noCache = true
	defer func() { f.p.noCache = false }()
	if _, err := rn.reuse(context.Background(), img, map[string]*Image{"api": img}); err != nil || img.Inputs == "" {
		f.t.Fatalf("digest: %v", err)
	}
	return img.Inputs
}

func TestReuse(t *testing.T) {
	ctx := context.Background()
	t.Run("own image with the same inputs is re-tagged", func(t *testing.T) {
		f := newFixture(t, "")
		l := ours("api", "r0", "localhost/demo-api:old")
		l[LabelInputs] = f.digest()
		f.eng.Add("sha256:old", l, "localhost/demo-api:old")
		rn, img := f.reuseRunner("r1")
		done, err := rn.reuse(ctx, img, map[string]*Image{"api": img})
		if err != nil || !done || img.Status != run.Reused || img.ID != "sha256:old" || img.Borrowed || img.Tagged.IsZero() {
			t.Fatalf("done %v err %v img %+v", done, err, img)
		}
		if !f.eng.Has(img.Ref, "sha256:old") {
			t.Fatal("not re-tagged")
		}
	})
	t.Run("another user's image is never reused", func(t *testing.T) {
		f := newFixture(t, "")
		l := ours("api", "r0", "localhost/demo-api:old")
		l[LabelInputs], l[LabelUser] = f.digest(), "bob"
		f.eng.Add("sha256:old", l, "localhost/demo-api:old")
		rn, img := f.reuseRunner("r1")
		if done, _ := rn.reuse(ctx, img, map[string]*Image{"api": img}); done {
			t.Fatal("reused bob's image")
		}
	})
	t.Run("a change of --platform is a change of inputs", func(t *testing.T) {
		f := newFixture(t, "")
		f.p.platforms = []string{"linux/386"}
		l := ours("api", "r0", "localhost/demo-api:386")
		l[LabelInputs] = f.digest()
		f.eng.Add("sha256:386", l, "localhost/demo-api:386")
		f.p.platforms = nil
		rn, img := f.reuseRunner("r1")
		if done, _ := rn.reuse(ctx, img, map[string]*Image{"api": img}); done {
			t.Fatal("the linux/386 image was reused for the default platform")
		}
	})
	t.Run("a changed file is a change of inputs", func(t *testing.T) {
		f := newFixture(t, "")
		l := ours("api", "r0", "localhost/demo-api:old")
		l[LabelInputs] = f.digest()
		f.eng.Add("sha256:old", l, "localhost/demo-api:old")
		os.WriteFile(filepath.Join(f.p.cfg.Dir, "app.txt"), []byte("v2\n"), 0o644)
		rn, img := f.reuseRunner("r1")
		if done, _ := rn.reuse(ctx, img, map[string]*Image{"api": img}); done {
			t.Fatal("reused after app.txt changed")
		}
	})
	t.Run("--no-cache never reuses", func(t *testing.T) {
		f := newFixture(t, "")
		l := ours("api", "r0", "localhost/demo-api:old")
		l[LabelInputs] = f.digest()
		f.eng.Add("sha256:old", l, "localhost/demo-api:old")
		f.p.noCache = true
		rn, img := f.reuseRunner("r1")
		if done, _ := rn.reuse(ctx, img, map[string]*Image{"api": img}); done {
			t.Fatal("reused with --no-cache")
		}
	})
	t.Run("--reuse TAG borrows", func(t *testing.T) {
		f := newFixture(t, "")
		f.eng.Add("sha256:ci", ours("api", "ci", "localhost/demo-api:ci-1"), "localhost/demo-api:ci-1")
		f.p.reuseTag = "ci-1"
		rn, img := f.reuseRunner("r1")
		done, _ := rn.reuse(ctx, img, map[string]*Image{"api": img})
		if !done || !img.Borrowed || img.Ref != "localhost/demo-api:ci-1" {
			t.Fatalf("borrow: done %v %+v", done, img)
		}
	})
}

// record writes a finished run's record with the given services.
func (f *fixture) record(id string, started time.Time, svcs map[string]*run.Service) {
	f.t.Helper()
	r, err := run.Start(f.state, run.Record{Run: id, Project: "demo", User: me, Engine: "docker", Started: started})
	if err != nil {
		f.t.Fatal(err)
	}
	end := started.Add(time.Second)
	if err := r.Update(func(rec *run.Record) { rec.Services, rec.State, rec.Ended = svcs, run.Done, &end }); err != nil {
		f.t.Fatal(err)
	}
	r.Close()
}

func (f *fixture) clean(id string) []string {
	f.t.Helper()
	recs, err := run.Records(f.state)
	if err != nil {
		f.t.Fatal(err)
	}
	rm, err := inventory.Clean(context.Background(), f.eng, nil, recs, id, false)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, c := range rm.Removed {
		out = append(out, c.Ref)
	}
	slices.Sort(out)
	return out
}

func at(t time.Time) *time.Time { return &t }

func TestCleanRemovesOnlyWhatTheRunOwns(t *testing.T) {
	f := newFixture(t, "")
	t0 := time.Now().Add(-time.Hour)
	// Run A built X; run B re-tagged X (reuse); run C borrowed CI's image;
	// runs D and E both gave the stable name; run F died before recording
	// its image's ID.
	f.eng.Add("sha256:x", ours("api", "20260101T000001-aaaaaa", "localhost/demo-api:a"), "localhost/demo-api:a", "localhost/demo-api:b", "localhost/demo-api:stable")
	f.eng.Add("sha256:ci", ours("api", "ci", "localhost/demo-api:ci"), "localhost/demo-api:ci")
	f.eng.Add("sha256:f", ours("api", "20260101T000006-ffffff", "localhost/demo-api:f"), "localhost/demo-api:f")
	f.eng.Add("sha256:foreign", nil, "localhost/demo-api:g")
	f.record("20260101T000001-aaaaaa", t0, map[string]*run.Service{"api": {Image: "localhost/demo-api:a", ID: "sha256:x", Status: run.Built}})
	f.record("20260101T000002-bbbbbb", t0, map[string]*run.Service{"api": {Image: "localhost/demo-api:b", ID: "sha256:x", Status: run.Reused}})
	f.record("20260101T000003-cccccc", t0, map[string]*run.Service{"api": {Image: "localhost/demo-api:ci", ID: "sha256:ci", Status: run.Reused, Borrowed: true}})
	f.record("20260101T000004-dddddd", t0, map[string]*run.Service{"api": {Image: "localhost/demo-api:stable", ID: "sha256:x", Status: run.Reused}})
	f.record("20260101T000005-eeeeee", t0, map[string]*run.Service{"api": {Image: "localhost/demo-api:stable", ID: "sha256:x", Status: run.Reused}})
	f.record("20260101T000006-ffffff", t0, map[string]*run.Service{"api": {Image: "localhost/demo-api:f", Status: run.Building}})
	f.record("20260101T000007-gggggg", t0, map[string]*run.Service{"api": {Image: "localhost/demo-api:g", Status: run.Building}})

	for _, c := range []struct {
		run  string
		want []string
	}{
		{"20260101T000002-bbbbbb", []string{"localhost/demo-api:b"}},
		{"20260101T000001-aaaaaa", []string{"localhost/demo-api:a"}}, // not B's re-tag
		{"20260101T000003-cccccc", nil},                              // borrowed
		{"20260101T000004-dddddd", nil},                              // E gave the name later
		{"20260101T000005-eeeeee", []string{"localhost/demo-api:stable"}},
		{"20260101T000006-ffffff", []string{"localhost/demo-api:f"}}, // built under that name by F
		{"20260101T000007-gggggg", nil},                              // the name is somebody else's image
	} {
		if got := f.clean(c.run); !slices.Equal(got, c.want) {
			t.Errorf("clean %s removed %v, want %v", c.run, got, c.want)
		}
	}
	if !f.eng.Has("localhost/demo-api:ci", "sha256:ci") || !f.eng.Has("localhost/demo-api:g", "sha256:foreign") {
		t.Error("a borrowed or foreign name was removed")
	}
}

func TestCleanKeepsImagesInUse(t *testing.T) {
	f := newFixture(t, "")
	f.eng.Add("sha256:x", ours("api", "20260101T000001-aaaaaa", "localhost/demo-api:a"), "localhost/demo-api:a")
	f.eng.Use("sha256:x")
	f.record("20260101T000001-aaaaaa", time.Now(), map[string]*run.Service{"api": {Image: "localhost/demo-api:a", ID: "sha256:x", Status: run.Built}})
	if got := f.clean("20260101T000001-aaaaaa"); len(got) != 0 || !f.eng.Has("localhost/demo-api:a", "") {
		t.Fatalf("removed %v, an image a container uses", got)
	}
}

func TestPruneAgesNamesByTaggingAndSparesLiveRuns(t *testing.T) {
	f := newFixture(t, "")
	old, recent := time.Now().Add(-2*time.Hour), time.Now().Add(-time.Minute)
	// One image built two hours ago, named by an old run and re-tagged just
	// now by a finished run and by a run still going; bob's old image.
	f.eng.Add("sha256:x", ours("api", "20260101T000001-aaaaaa", "localhost/demo-api:old"), "localhost/demo-api:old", "localhost/demo-api:new", "localhost/demo-api:live")
	bob := ours("api", "b", "localhost/demo-api:bob")
	bob[LabelUser] = "bob"
	f.eng.Add("sha256:bob", bob, "localhost/demo-api:bob")
	f.record("20260101T000001-aaaaaa", old, map[string]*run.Service{"api": {Image: "localhost/demo-api:old", ID: "sha256:x", Status: run.Built, Tagged: at(old)}})
	f.record("20260101T000002-bbbbbb", old, map[string]*run.Service{"api": {Image: "localhost/demo-api:new", ID: "sha256:x", Status: run.Reused, Tagged: at(recent)}})
	live := f.start("20260101T000003-cccccc")
	if err := live.Update(func(rec *run.Record) {
		rec.Started = old
		rec.Services["api"] = &run.Service{Image: "localhost/demo-api:live", ID: "sha256:x", Status: run.Reused, Tagged: at(old)}
	}); err != nil {
		t.Fatal(err)
	}
	rm, err := inventory.Prune(context.Background(), f.eng, nil, f.state, inventory.Policy{OlderThan: time.Hour, User: me})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range rm.Removed {
		got = append(got, c.Ref)
	}
	if !slices.Equal(got, []string{"localhost/demo-api:old"}) {
		t.Fatalf("prune removed %v, want only the name given two hours ago", got)
	}
	if !slices.Equal(rm.Runs, []string{"20260101T000001-aaaaaa"}) {
		t.Fatalf("prune removed run folders %v, want the old run's only", rm.Runs)
	}
	if !f.eng.Has("localhost/demo-api:bob", "") {
		t.Fatal("prune touched bob's image")
	}
	// --keep 1 keeps the newest name of the service.
	live.Close()
	rm, err = inventory.Prune(context.Background(), f.eng, nil, f.state, inventory.Policy{OlderThan: 0, Keep: 1, User: me})
	if err != nil || len(rm.Removed) != 1 || rm.Removed[0].Ref != "localhost/demo-api:live" {
		t.Fatalf("--keep 1 removed %v (%v)", rm.Removed, err)
	}
}

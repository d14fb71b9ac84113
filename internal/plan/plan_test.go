package plan

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/errs"
	"github.com/slipway-dev/slipway/internal/fixture"
	"github.com/slipway-dev/slipway/internal/labels"
	"github.com/slipway-dev/slipway/pkg/inputs"
)

// Unit tests of tag assignment against an in-memory engine: which tag a run
// gets when others hold or claim it.

type planFixture struct {
	*fixture.Repo
	p *Plan
}

func newFixture(t *testing.T, extra string) *planFixture {
	r := fixture.New(t, extra)
	return &planFixture{Repo: r, p: &Plan{Cfg: r.Cfg, Services: []string{"api"}, Eng: r.Eng, User: fixture.Me, Source: r.Cfg.Dir}}
}

func (f *planFixture) start(id string) { f.Start(id) }

func (f *planFixture) refs(runID string, now time.Time) map[string]Ref {
	f.T.Helper()
	if err := f.p.AssignRefs(context.Background(), f.State, runID, now); err != nil {
		f.T.Fatal(err)
	}
	return f.p.Refs
}

func TestAssignRefs(t *testing.T) {
	now := time.Unix(1734278400, 0)
	t.Run("free", func(t *testing.T) {
		f := newFixture(t, "")
		f.start("r1")
		if got := f.refs("r1", now)["api"].Tag; got != "api-"+fixture.Me+"-nogit-1734278400" {
			t.Fatalf("tag %s", got)
		}
	})
	t.Run("taken by a foreign image gets a suffix", func(t *testing.T) {
		f := newFixture(t, "")
		f.Eng.Add("sha256:x", nil, "localhost/demo-api:api-"+fixture.Me+"-nogit-1734278400")
		f.start("r1")
		if got := f.refs("r1", now)["api"].Tag; got != "api-"+fixture.Me+"-nogit-1734278400-2" {
			t.Fatalf("tag %s", got)
		}
	})
	t.Run("per-run template never takes over even its own image", func(t *testing.T) {
		f := newFixture(t, "")
		f.Eng.Add("sha256:x", fixture.Labels("api", "r0", ""), "localhost/demo-api:api-"+fixture.Me+"-nogit-1734278400")
		f.start("r1")
		if got := f.refs("r1", now)["api"].Tag; !strings.HasSuffix(got, "-2") {
			t.Fatalf("tag %s", got)
		}
	})
	t.Run("stable template takes over its own image", func(t *testing.T) {
		f := newFixture(t, "tag: \"{{.Service}}-{{.GitShort}}\"\n")
		f.Eng.Add("sha256:x", fixture.Labels("api", "r0", ""), "localhost/demo-api:api-nogit")
		f.start("r1")
		if got := f.refs("r1", now)["api"].Tag; got != "api-nogit" {
			t.Fatalf("tag %s, want the stable api-nogit", got)
		}
	})
	t.Run("stable template never takes over another user's image", func(t *testing.T) {
		f := newFixture(t, "tag: \"{{.Service}}-{{.GitShort}}\"\n")
		bob := fixture.Labels("api", "r0", "")
		bob[labels.User] = "bob"
		f.Eng.Add("sha256:x", bob, "localhost/demo-api:api-nogit")
		f.start("r1")
		if got := f.refs("r1", now)["api"].Tag; got != "api-nogit-2" {
			t.Fatalf("tag %s", got)
		}
	})
	t.Run("a live run's claim binds, an ended one's does not", func(t *testing.T) {
		f := newFixture(t, "tag: \"{{.Service}}-{{.GitShort}}\"\n")
		a := f.Start("r1")
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
		f.p.FixedTag = "dev"
		f.Eng.Add("sha256:x", nil, "localhost/demo-api:dev")
		f.start("r1")
		err := f.p.AssignRefs(context.Background(), f.State, "r1", now)
		if !errs.IsUsage(err) || !strings.Contains(err.Error(), "refusing to overwrite") {
			t.Fatalf("fixed tag over a foreign image: %v", err)
		}
		f.Eng.Add("sha256:y", fixture.Labels("api", "r0", ""), "localhost/demo-api:dev")
		if got := f.refs("r1", now)["api"].Tag; got != "dev" {
			t.Fatalf("fixed tag over own image: %s", got)
		}
	})
}

// Issue 10: a symlink in a build context that points out of the
// repository is refused before anything is built, unless it is ignored or
// allowed.
func TestLinksOutOfTheRepositoryAreRefused(t *testing.T) {
	for _, c := range []struct {
		name, extra, ignore, abs string
		inside, refused          bool
	}{
		{name: "outside", refused: true},
		{name: "inside", inside: true},
		{name: "ignored", ignore: "escape\n"},
		{name: "allowed", extra: "allow_outside_repo: true\n"},
		{name: "absolute, meant inside the context", abs: "/app.txt"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.extra)
			dir := f.Cfg.Dir
			target := t.TempDir()
			if c.inside {
				target = filepath.Join(dir, "app.txt")
			}
			if c.abs != "" {
				target = c.abs // BuildKit reads it from the context's root
			}
			if err := os.Symlink(target, filepath.Join(dir, "escape")); err != nil {
				t.Fatal(err)
			}
			if c.ignore != "" {
				if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte(c.ignore), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f.p.Hasher = inputs.NewHasher()
			err := error(nil)
			if !f.Cfg.AllowOutsideRepo {
				err = f.p.checkLinks()
			}
			if c.refused != (err != nil) {
				t.Fatalf("refused=%v, err %v", c.refused, err)
			}
			if c.refused && (!errs.IsUsage(err) || !strings.Contains(err.Error(), "symlink escape -> ")) {
				t.Fatalf("error %v", err)
			}
		})
	}
}

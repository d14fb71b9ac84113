package watch

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/config"
)

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{"api": "SLIPWAY_IMAGE_API", "user-api": "SLIPWAY_IMAGE_USER_API", "a.b_c": "SLIPWAY_IMAGE_A_B_C"} {
		if got := EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGitPatterns(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("# c\n*.log\n/build/\ndocs/tmp\n!keep.log\n\n"), 0o644)
	g := newGitIgnore()
	g.load(dir)
	for rel, want := range map[string]bool{
		"a.log": true, "x/y/a.log": true, "keep.log": false, "build/out": true, "x/build/out": false,
		"docs/tmp/a": true, "x/docs/tmp": false, "main.go": false, ".git/HEAD": true,
	} {
		if got := g.ignored(filepath.Join(dir, rel)); got != want {
			t.Errorf("%s: ignored=%v, want %v", rel, got, want)
		}
	}
}

// A project copied under a folder another repository ignores (bench/out/)
// is still watched: the parent's patterns apply only below the project.
func TestGitIgnoreOfAParentNeverHidesTheProject(t *testing.T) {
	top := t.TempDir()
	os.Mkdir(filepath.Join(top, ".git"), 0o755)
	os.WriteFile(filepath.Join(top, ".gitignore"), []byte("out/\n*.log\n"), 0o644)
	proj := filepath.Join(top, "bench", "out", "run1", "fleet")
	os.MkdirAll(proj, 0o755)
	g := newGitIgnore()
	g.base = proj
	g.loadUp(proj)
	for rel, want := range map[string]bool{
		"cmd/main.go": false, "a.log": true, "cmd/out/bin": true, "out/x": true,
	} {
		if got := g.ignored(filepath.Join(proj, rel)); got != want {
			t.Errorf("%s: ignored=%v, want %v", rel, got, want)
		}
	}
	if !g.ignored(filepath.Join(top, "out", "x")) {
		t.Error("the parent's own out/ is no longer ignored")
	}
}

// The watcher forwards edits to what a build can see, and nothing that
// .dockerignore or .gitignore excludes; new folders are watched.
func TestTreeForwardsOnlyWhatBuildsSee(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("slipway.yaml", "project: p\nservices:\n  app:\n    dockerfile: app.Dockerfile\n    context: app\n")
	write("app.Dockerfile", "FROM scratch\nCOPY . /\n")
	write("app/main.go", "a")
	write("app/.dockerignore", "*.tmp\n")
	write(".gitignore", "out/\n")
	write("notes.txt", "n")
	cfgOf := func() (*cfgT, []string, error) { return loadCfg(dir) }
	tr, err := newTree(cfgOf)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	go tr.run(ctx)
	got := func() []string {
		var out []string
		for {
			select {
			case c := <-tr.out:
				out = append(out, c.path)
			case <-time.After(300 * time.Millisecond):
				return out
			}
		}
	}
	write("notes.txt", "outside every context")
	write("app/x.tmp", "dockerignored")
	write("app/out/bin", "gitignored")
	if evs := got(); len(evs) != 0 {
		t.Fatalf("ignored edits forwarded: %v", evs)
	}
	write("app/main.go", "b")
	write("app.Dockerfile", "FROM scratch\nCOPY . /app\n")
	write("app/pkg/new/util.go", "new folder")
	time.Sleep(100 * time.Millisecond)
	write("app/pkg/new/util.go", "edited in the new folder")
	evs := got()
	want := map[string]bool{"app/main.go": false, "app.Dockerfile": false, "app/pkg/new/util.go": false}
	for _, e := range evs {
		if _, ok := want[e]; ok {
			want[e] = true
		} else if e != "app/pkg" && e != "app/pkg/new" {
			t.Errorf("unexpected event %s", e)
		}
	}
	for p, seen := range want {
		if !seen {
			t.Errorf("no event for %s (got %v)", p, evs)
		}
	}
}

type cfgT = config.Config

func loadCfg(dir string) (*config.Config, []string, error) {
	c, err := config.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	s, err := c.Select()
	return c, s, err
}

package scaffold

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/pkg/config"
)

// TestFleet proposes a config for the example repository, which has its own
// hand-written slipway.yaml, and compares the two service by service.
func TestFleet(t *testing.T) {
	root := filepath.Join("..", "..", "examples", "fleet")
	want, err := config.Load(filepath.Join(root, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Propose(Options{Dir: root})
	if err != nil {
		t.Fatal(err)
	}
	if p.Project != "fleet" {
		t.Errorf("project = %q, want fleet", p.Project)
	}
	got, err := config.Parse(filepath.Join(t.TempDir(), config.FileName), p.YAML())
	if err == nil {
		t.Fatal("parsed outside the repository: the Dockerfiles should not be found there")
	}
	abs, _ := filepath.Abs(root)
	got, err = config.Parse(filepath.Join(abs, config.FileName), p.YAML())
	if err != nil {
		t.Fatalf("proposal does not parse: %v\n%s", err, p.YAML())
	}
	if g, w := slices.Sorted(maps.Keys(got.Services)), slices.Sorted(maps.Keys(want.Services)); !slices.Equal(g, w) {
		t.Fatalf("services = %v, want %v", g, w)
	}
	for name, ws := range want.Services {
		gs := got.Services[name]
		if gs.Dockerfile != ws.Dockerfile || gs.Context != ws.Context || gs.Target != ws.Target || !slices.Equal(gs.DependsOn, ws.DependsOn) {
			t.Errorf("%s = {dockerfile %s context %s target %s depends_on %v}, want {%s %s %s %v}", name,
				gs.Dockerfile, gs.Context, gs.Target, gs.DependsOn, ws.Dockerfile, ws.Context, ws.Target, ws.DependsOn)
		}
	}
	if len(p.Notes) > 0 {
		t.Errorf("notes for a repository that needs none: %q", p.Notes)
	}
}

// TestOtherLayout is a repository unlike fleet: a Dockerfile per folder
// with its folder as the context, a root Dockerfile with two final stages,
// a base image others build FROM ${BASE_IMAGE}, a Containerfile, and
// Dockerfiles that are not the repository's (node_modules, testdata).
func TestOtherLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "My Shop")
	write(t, dir, map[string]string{
		"base/Dockerfile":             "FROM debian:bookworm\nRUN true\n",
		"services/web/Dockerfile":     "ARG BASE_IMAGE=base\nFROM ${BASE_IMAGE}\nCOPY package.json index.js ./\n",
		"services/web/package.json":   "{}",
		"services/web/index.js":       "",
		"services/cart/Containerfile": "ARG BASE_IMAGE\nFROM $BASE_IMAGE AS run\nCOPY cart/ /srv/\n",
		"services/cart/cart/main.py":  "",
		"Dockerfile": "FROM golang AS build\nCOPY go.mod ./\nRUN go build ./...\n" +
			"FROM debian AS test\nRUN true\n" +
			"FROM debian AS api\nCOPY --from=build /out/api /api\n" +
			"FROM debian AS worker\nCOPY --from=build /out/worker /worker\n",
		"go.mod":                               "module x\n",
		"node_modules/pkg/Dockerfile":          "FROM scratch\n",
		"testdata/Dockerfile":                  "FROM scratch\n",
		"docs/Dockerfile.md":                   "not a Dockerfile",
		"services/web/Dockerfile.dockerignore": "*.log\n",
	})
	p, err := Propose(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if p.Project != "my-shop" {
		t.Errorf("project = %q, want my-shop", p.Project)
	}
	byName := map[string]Service{}
	for _, s := range p.Services {
		byName[s.Name] = s
	}
	want := map[string]Service{
		"api":    {Name: "api", Dockerfile: "Dockerfile", Context: ".", Target: "api"},
		"worker": {Name: "worker", Dockerfile: "Dockerfile", Context: ".", Target: "worker"},
		"base":   {Name: "base", Dockerfile: "base/Dockerfile", Context: "base"},
		"cart":   {Name: "cart", Dockerfile: "services/cart/Containerfile", Context: "services/cart", Target: "run", DependsOn: []string{"base"}},
		"web":    {Name: "web", Dockerfile: "services/web/Dockerfile", Context: "services/web", DependsOn: []string{"base"}},
	}
	if len(byName) != len(want) {
		t.Errorf("services = %v, want %v", slices.Sorted(maps.Keys(byName)), slices.Sorted(maps.Keys(want)))
	}
	for name, w := range want {
		g := byName[name]
		if g.Dockerfile != w.Dockerfile || g.Context != w.Context || g.Target != w.Target || !slices.Equal(g.DependsOn, w.DependsOn) {
			t.Errorf("%s = %+v, want %+v", name, g, w)
		}
	}
	cfg, err := config.Parse(filepath.Join(dir, config.FileName), p.YAML())
	if err != nil {
		t.Fatalf("proposal does not parse: %v\n%s", err, p.YAML())
	}
	// The build order follows the inferred dependencies.
	if got := cfg.Services["web"].DependsOn; !slices.Equal(got, []string{"base"}) {
		t.Errorf("parsed web depends_on = %v", got)
	}

	path, err := Write(dir, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, p); err == nil || !strings.Contains(err.Error(), "never overwrites") {
		t.Errorf("second Write = %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(path); string(b) != string(p.YAML()) {
		t.Errorf("written file differs from the proposal")
	}
}

func TestNotes(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"app/Dockerfile": "FROM ${RUNTIME}\nCOPY missing.txt /\n",
		"bad.Dockerfile": "this is not a Dockerfile\n",
	})
	p, err := Propose(Options{Dir: dir, Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(p.Notes, "\n")
	for _, want := range []string{"FROM ${RUNTIME} names no service", "missing", "bad.Dockerfile skipped"} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes lack %q:\n%s", want, joined)
		}
	}
	if !strings.Contains(string(p.YAML()), "# note: ") {
		t.Errorf("notes are not comments in the YAML:\n%s", p.YAML())
	}
	if _, err := Propose(Options{Dir: t.TempDir()}); err == nil {
		t.Error("a repository without Dockerfiles got a proposal")
	}
}

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Package integration runs slipway against the real container engine. It
// fails, never skips, when no engine is reachable: the README's test command
// starts one.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/run"
)

// BaseImage is built by scripts/setup.sh from Debian packages.
const BaseImage = "slipway.local/base/debian:bookworm"

var bin string // the slipway CLI, built once

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "slipway-it-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "slipway")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/slipway")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building slipway:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needEngine returns the engine or fails the test.
func needEngine(t *testing.T) *engine.Engine {
	t.Helper()
	e, err := engine.Detect(context.Background(), os.Getenv("SLIPWAY_TEST_ENGINE"))
	if err != nil {
		t.Fatalf("integration tests need a container engine (run scripts/setup.sh): %v", err)
	}
	if _, err := e.Inspect(context.Background(), BaseImage); err != nil {
		t.Fatalf("integration tests need %s (run scripts/setup.sh): %v", BaseImage, err)
	}
	return e
}

// repo is a throw-away repository with a slipway.yaml.
type repo struct {
	t       *testing.T
	Dir     string
	Project string
	State   string
}

// newRepo writes dockerfiles (service -> Dockerfile body) and a config with
// the extra YAML appended under each service and at the end.
func newRepo(t *testing.T, dockerfiles map[string]string, extra string) *repo {
	t.Helper()
	needEngine(t)
	dir := t.TempDir()
	project := "it" + strings.ToLower(strings.NewReplacer("/", "", "_", "").Replace(t.Name()))
	if len(project) > 40 {
		project = project[:40]
	}
	project += fmt.Sprint(time.Now().UnixNano() % 100000)
	var y strings.Builder
	fmt.Fprintf(&y, "project: %s\nservices:\n", project)
	for _, name := range slices.Sorted(maps.Keys(dockerfiles)) {
		p := filepath.Join(dir, name+".Dockerfile")
		if err := os.WriteFile(p, []byte(dockerfiles[name]), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&y, "  %s:\n    dockerfile: %s.Dockerfile\n", name, name)
	}
	y.WriteString(extra)
	if err := os.WriteFile(filepath.Join(dir, "slipway.yaml"), []byte(y.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &repo{t: t, Dir: dir, Project: project, State: t.TempDir()}
	t.Cleanup(func() { removeProjectImages(project) })
	return r
}

// removeProjectImages untags every image a test project made, in both
// engines.
func removeProjectImages(project string) {
	for _, eng := range []string{"docker", "podman"} {
		out, _ := exec.Command(eng, "image", "ls", "--filter", "label=dev.slipway.project="+project, "--format", "{{.Repository}}:{{.Tag}}").Output()
		refs := strings.Fields(string(out))
		if len(refs) > 0 {
			exec.Command(eng, append([]string{"image", "rm", "-f"}, refs...)...).Run()
		}
	}
}

// result is one CLI invocation.
type result struct {
	Code           int
	Stdout, Stderr string
	Meta           run.Record
}

// slipway runs the CLI in the repo with env added and returns how it ended.
func (r *repo) slipway(ctx context.Context, env []string, args ...string) result {
	r.t.Helper()
	meta := filepath.Join(r.t.TempDir(), "meta.json")
	if len(args) > 0 && args[0] == "build" && !slices.Contains(args, "--metadata-file") {
		args = append(args, "--metadata-file", meta)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = r.Dir
	cmd.Env = append(os.Environ(), "SLIPWAY_STATE_DIR="+r.State)
	cmd.Env = append(cmd.Env, env...)
	res := runCmd(r.t, cmd)
	if b, err := os.ReadFile(meta); err == nil {
		if err := json.Unmarshal(b, &res.Meta); err != nil {
			r.t.Fatalf("metadata file: %v", err)
		}
	}
	return res
}

// runCmd runs cmd and returns its output and exit code; only a failure to
// start it fails the test.
func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	res := result{Stdout: so.String(), Stderr: se.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", cmd.Path, err)
	}
	return res
}

func inspect(t *testing.T, ref string) *engine.Image {
	t.Helper()
	img, err := needEngine(t).Inspect(context.Background(), ref)
	if err != nil {
		t.Fatalf("inspect %s: %v", ref, err)
	}
	return img
}

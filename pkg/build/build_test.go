package build

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/pkg/engine"
)

// fakeDocker stands in for `docker build`: it prints lines lines, writes
// the image ID to the --iidfile and exits with status.
func fakeDocker(t *testing.T, lines int, status int) *engine.Engine {
	t.Helper()
	p := filepath.Join(t.TempDir(), "docker")
	script := `#!/bin/sh
iid=
while [ $# -gt 0 ]; do [ "$1" = --iidfile ] && iid=$2; shift; done
i=0
while [ $i -lt ` + strconv.Itoa(lines) + ` ]; do echo "step $i of a long build with some output"; i=$((i+1)); done
echo sha256:feed > "$iid"
exit ` + strconv.Itoa(status) + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return &engine.Engine{Name: "docker", Bin: p}
}

// failAfter accepts n writes, then fails like a full disk.
type failAfter struct {
	n      int
	writes int
}

func (f *failAfter) Write(p []byte) (int, error) {
	f.writes++
	if f.writes > f.n {
		return 0, errors.New("no space left on device")
	}
	return len(p), nil
}

// A log output that fails must not fail a build that succeeds: the child's
// output is still drained and its exit status decides.
func TestFailingLogDoesNotFailTheBuild(t *testing.T) {
	var good strings.Builder
	bad := &failAfter{n: 1}
	b := &Builder{Engine: fakeDocker(t, 20000, 0), TempDir: t.TempDir()}
	res, err := b.Build(context.Background(), Request{Service: "svc",
		Spec: engine.BuildSpec{Dockerfile: "Dockerfile", Context: "."},
		Log:  NewSinks(bad, &good), LogPath: "/x.log"})
	if err != nil {
		t.Fatalf("build failed: %v", err)
	}
	if res.ID != "sha256:feed" {
		t.Errorf("ID %q", res.ID)
	}
	if !strings.Contains(good.String(), "step 19999") || strings.Count(good.String(), "no space left") != 1 {
		t.Errorf("the good log lost output or has no single note (%d bytes)", good.Len())
	}
	// A plain failing writer as Request.Log (io.MultiWriter of the old
	// runner) is tolerated too.
	_, err = b.Build(context.Background(), Request{Service: "svc",
		Spec: engine.BuildSpec{Dockerfile: "Dockerfile", Context: "."}, Log: &failAfter{n: 0}})
	if err != nil {
		t.Fatalf("build with a failing log: %v", err)
	}
}

// The exit status alone decides failure; the shown command has no
// build-arg value.
func TestFailureHidesBuildArgValues(t *testing.T) {
	var log strings.Builder
	b := &Builder{Engine: fakeDocker(t, 3, 3), TempDir: t.TempDir()}
	_, err := b.Build(context.Background(), Request{Service: "svc",
		Spec: engine.BuildSpec{Dockerfile: "Dockerfile", Context: ".", Args: map[string]string{"TOKEN": "hunter2"}},
		Log:  &log, LogPath: "/x.log"})
	var f *Failure
	if !errors.As(err, &f) || f.ExitCode != 3 {
		t.Fatalf("err %v", err)
	}
	for what, s := range map[string]string{"error": err.Error(), "detail": f.Detail(), "log": log.String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("%s shows a build-arg value: %s", what, s)
		}
		if what != "detail" && !strings.Contains(s, "--build-arg TOKEN=…") {
			t.Errorf("%s lacks the elided arg: %s", what, s)
		}
	}
}

// A failure the direct builder reports names the step that failed and the
// equivalent command; the CLI builder's keeps its one-command form.
func TestFailureWithStep(t *testing.T) {
	f := &Failure{Service: "api", Argv: []string{"docker", "buildx", "build", "."}, ExitCode: 3,
		Tail: []string{"about-to-fail"}, Log: "/runs/x/api.log", Step: "[2/2] RUN make"}
	msg := f.Error()
	for _, want := range []string{"api: build failed", "step `[2/2] RUN make` exited with status 3", "/runs/x/api.log", "`docker buildx build .`"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if d := f.Detail(); !strings.Contains(d, "about-to-fail") {
		t.Errorf("detail: %s", d)
	}
	f.Step = ""
	if msg := f.Error(); !strings.Contains(msg, "`docker buildx build .` exited with status 3") {
		t.Errorf("CLI form: %s", msg)
	}
}

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/build"
	"github.com/slipway-dev/slipway/pkg/build/buildkit"
	"github.com/slipway-dev/slipway/pkg/engine"
)

// directRepo is a folder with one Dockerfile per service, built with the
// direct BuildKit builder straight from the library.
type directRepo struct {
	t       *testing.T
	dir     string
	project string
	b       *buildkit.Builder
	eng     *engine.Engine
}

func newDirect(t *testing.T) *directRepo {
	t.Helper()
	eng := needEngine(t)
	if eng.Name != "docker" {
		t.Fatalf("the direct BuildKit builder needs the docker engine, have %s", eng.Name)
	}
	b, av := buildkit.Open(context.Background(), eng, "", buildkit.Options{})
	if b == nil {
		t.Fatalf("direct BuildKit path not available: %s", av.Reason)
	}
	t.Cleanup(func() { b.Close() })
	project := fmt.Sprintf("itdirect%d", time.Now().UnixNano()%1000000)
	t.Cleanup(func() { removeProjectImages(project) })
	return &directRepo{t: t, dir: t.TempDir(), project: project, b: b, eng: eng}
}

// req writes service's Dockerfile (and a file to COPY) and returns its
// build request; the log goes to a file in the repo.
func (r *directRepo) req(service, dockerfile string) build.Request {
	r.t.Helper()
	ctxDir := filepath.Join(r.dir, service)
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "payload.txt"), []byte(service+"\n"), 0o644); err != nil {
		r.t.Fatal(err)
	}
	logPath := filepath.Join(r.dir, service+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { logf.Close() })
	return build.Request{Service: service, LogPath: logPath, Log: logf, Spec: engine.BuildSpec{
		Dockerfile: filepath.Join(ctxDir, "Dockerfile"),
		Context:    ctxDir,
		Tags:       []string{"slipway.local/" + r.project + "/" + service + ":t1"},
		Labels:     map[string]string{"dev.slipway.project": r.project, "dev.slipway.service": service},
	}}
}

func readLog(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The direct builder builds into the engine's store (tag, labels, build
// arg, the image ID as the engine knows it), logs like --progress=plain,
// reports its steps, and a second build of the same input is all cached.
func TestDirectBuilderBuildsAndReuses(t *testing.T) {
	r := newDirect(t)
	df := "FROM " + BaseImage + "\nARG GREETING\nCOPY payload.txt /payload.txt\nRUN echo \"$GREETING\" >/greeting && echo built-step-ran\n"
	req := r.req("app", df)
	// The greeting is new on every run: the engine's build cache outlives
	// the test, and a first build that hits it proves nothing.
	req.Spec.Args = map[string]string{"GREETING": "hello-" + r.project}
	var mu sync.Mutex
	var heard []build.Step
	req.OnStep = func(s build.Step) { mu.Lock(); heard = append(heard, s); mu.Unlock() }
	res, err := r.b.Build(context.Background(), req)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, readLog(t, req.LogPath))
	}
	img := inspect(t, req.Spec.Tags[0])
	if img.ID != res.ID {
		t.Errorf("result ID %s, engine has %s", res.ID, img.ID)
	}
	if img.Labels["dev.slipway.service"] != "app" {
		t.Errorf("labels: %v", img.Labels)
	}
	if res.Via != "buildkit" {
		t.Errorf("via %q", res.Via)
	}
	log := readLog(t, req.LogPath)
	for _, want := range []string{"BuildKit solve via", "RUN echo", "built-step-ran", "buildx build"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	var run *build.Step
	for i, s := range res.Steps {
		if strings.Contains(s.Name, "RUN echo") {
			run = &res.Steps[i]
		}
	}
	if run == nil || run.Cached || !run.Done() {
		t.Fatalf("RUN step not reported as run and done: %+v", res.Steps)
	}
	mu.Lock()
	if len(heard) == 0 {
		t.Error("OnStep heard nothing")
	}
	mu.Unlock()

	// Same input again: the RUN step is cached and the image is the same.
	req2 := r.req("app", df)
	req2.Spec.Args = req.Spec.Args
	res2, err := r.b.Build(context.Background(), req2)
	if err != nil {
		t.Fatalf("second build: %v", err)
	}
	for _, s := range res2.Steps {
		if strings.Contains(s.Name, "RUN echo") && !s.Cached {
			t.Errorf("second build ran the RUN step again: %+v", s)
		}
	}
	if res2.ID != res.ID {
		t.Errorf("second build made %s, first %s", res2.ID, res.ID)
	}
}

// A service built FROM another service's image of the same run sees it:
// the moby exporter put it in the daemon's store, and the next solve
// resolves it there.
func TestDirectBuilderFromAnotherService(t *testing.T) {
	r := newDirect(t)
	base := r.req("base", "FROM "+BaseImage+"\nRUN echo from-base-$RANDOM >/from-base\n")
	base.Spec.NoCache = true
	if _, err := r.b.Build(context.Background(), base); err != nil {
		t.Fatalf("base: %v\n%s", err, readLog(t, base.LogPath))
	}
	app := r.req("app", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN test -f /from-base && cat /from-base\n")
	app.Spec.Args = map[string]string{"BASE_IMAGE": base.Spec.Tags[0]}
	if _, err := r.b.Build(context.Background(), app); err != nil {
		t.Fatalf("app FROM base: %v\n%s", err, readLog(t, app.LogPath))
	}
	baseImg := inspect(t, base.Spec.Tags[0])
	appImg := inspect(t, app.Spec.Tags[0])
	if len(appImg.Layers) <= len(baseImg.Layers) || appImg.Layers[0] != baseImg.Layers[0] {
		t.Errorf("app is not built on base: base layers %v, app layers %v", baseImg.Layers, appImg.Layers)
	}
}

// Cancelling one build stops it promptly and leaves a concurrent build on
// the same connection alone.
func TestDirectBuilderCancelsOneService(t *testing.T) {
	r := newDirect(t)
	slow := r.req("slow", "FROM "+BaseImage+"\nRUN echo sleeping && sleep 120\n")
	slow.Spec.NoCache = true
	good := r.req("good", "FROM "+BaseImage+"\nRUN sleep 3 && echo good-done\n")
	good.Spec.NoCache = true
	ctx, cancel := context.WithCancelCause(context.Background())
	var slowErr, goodErr error
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	go func() { defer wg.Done(); _, slowErr = r.b.Build(ctx, slow) }()
	go func() { defer wg.Done(); _, goodErr = r.b.Build(context.Background(), good) }()
	time.Sleep(4 * time.Second)
	cancel(errors.New("test cancels slow"))
	wg.Wait()
	if el := time.Since(start); el > 60*time.Second {
		t.Errorf("cancelled build took %s to stop", el)
	}
	if slowErr == nil || !strings.Contains(slowErr.Error(), "test cancels slow") {
		t.Errorf("slow: %v, want the cancellation cause", slowErr)
	}
	if goodErr != nil {
		t.Errorf("good build was disturbed: %v\n%s", goodErr, readLog(t, good.LogPath))
	}
	// A build deadline (--timeout) ends the same way.
	tctx, tcancel := context.WithTimeoutCause(context.Background(), 3*time.Second, errors.New("slow: build timed out after 3s"))
	defer tcancel()
	slow2 := r.req("slow2", "FROM "+BaseImage+"\nRUN sleep 120\n")
	slow2.Spec.NoCache = true
	start = time.Now()
	_, err := r.b.Build(tctx, slow2)
	if err == nil || !strings.Contains(err.Error(), "timed out") || time.Since(start) > 60*time.Second {
		t.Errorf("timeout: %v after %s", err, time.Since(start))
	}
}

// A failing RUN is a *build.Failure naming the service, the step, its exit
// status, the log and its last lines, and the equivalent command.
func TestDirectBuilderFailureReport(t *testing.T) {
	r := newDirect(t)
	bad := r.req("bad", "FROM "+BaseImage+"\nRUN echo step-one && echo about-to-fail && exit 3\n")
	bad.Spec.NoCache = true
	_, err := r.b.Build(context.Background(), bad)
	var f *build.Failure
	if !errors.As(err, &f) {
		t.Fatalf("want *build.Failure, got %T: %v", err, err)
	}
	if f.ExitCode != 3 {
		t.Errorf("exit code %d, want 3", f.ExitCode)
	}
	if !strings.Contains(f.Step, "exit 3") {
		t.Errorf("step %q does not name the failing RUN", f.Step)
	}
	detail := f.Detail()
	for _, want := range []string{"bad: build failed", "exited with status 3", "about-to-fail", bad.LogPath, "buildx build"} {
		if !strings.Contains(detail, want) {
			t.Errorf("failure report lacks %q:\n%s", want, detail)
		}
	}
}

// Secrets reach RUN --mount=type=secret from the environment and never
// land in the image or the log.
func TestDirectBuilderSecret(t *testing.T) {
	r := newDirect(t)
	t.Setenv("SLIPWAY_IT_TOKEN", "s3cr3t-value")
	req := r.req("sec", "FROM "+BaseImage+
		"\nRUN --mount=type=secret,id=tok grep -q '^s3cr3t-' /run/secrets/tok && echo secret-ok\n")
	req.Spec.NoCache = true
	req.Spec.Secrets = []engine.Secret{{ID: "tok", Env: "SLIPWAY_IT_TOKEN"}}
	if _, err := r.b.Build(context.Background(), req); err != nil {
		t.Fatalf("secret build: %v\n%s", err, readLog(t, req.LogPath))
	}
	if log := readLog(t, req.LogPath); strings.Contains(log, "s3cr3t-value") || !strings.Contains(log, "secret-ok") {
		t.Errorf("log:\n%s", log)
	}
}

// Check says the direct path is there for this engine, and why not when
// it is turned off.
func TestDirectBuilderCheck(t *testing.T) {
	eng := needEngine(t)
	if av := buildkit.Check(context.Background(), eng, ""); !av.Direct {
		t.Fatalf("direct path not available: %s", av.Reason)
	}
	t.Setenv(buildkit.EnvMode, "cli")
	av := buildkit.Check(context.Background(), eng, "")
	if av.Direct || !strings.Contains(av.Reason, "SLIPWAY_BUILDKIT=cli") {
		t.Errorf("with %s=cli: %+v", buildkit.EnvMode, av)
	}
}

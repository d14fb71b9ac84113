package buildkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"

	"github.com/slipway-dev/slipway/pkg/build"
	"github.com/slipway-dev/slipway/pkg/engine"
)

// buildxConfig points buildx's config at a temp folder holding the given
// builder definitions (name -> JSON) and current builder.
func buildxConfig(t *testing.T, current string, instances map[string]string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("BUILDX_CONFIG", dir)
	t.Setenv("BUILDX_BUILDER", "")
	t.Setenv(EnvMode, "")
	if err := os.MkdirAll(filepath.Join(dir, "instances"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, js := range instances {
		if err := os.WriteFile(filepath.Join(dir, "instances", name), []byte(js), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if current != "" {
		if err := os.WriteFile(filepath.Join(dir, "current"), []byte(`{"Key":"x","Name":"`+current+`"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResolveSaysWhyNot(t *testing.T) {
	docker := &engine.Engine{Name: "docker", API: &engine.Endpoint{Network: "unix", Address: "/x.sock", Host: "unix:///x.sock"}}
	buildxConfig(t, "", map[string]string{
		"rb":   `{"Name":"rb","Driver":"remote","Nodes":[{"Name":"rb0","Endpoint":"tcp://127.0.0.1:1234"}]}`,
		"tls":  `{"Name":"tls","Driver":"remote","Nodes":[{"Name":"t0","Endpoint":"tcp://h:1234","DriverOpts":{"cacert":"/ca.pem"}}]}`,
		"cont": `{"Name":"cont","Driver":"docker-container","Nodes":[{"Name":"c0","Endpoint":"unix:///var/run/docker.sock"}]}`,
		"dd":   `{"Name":"dd","Driver":"docker","Nodes":[{"Name":"d0","Endpoint":"default"}]}`,
	})
	cases := []struct {
		eng     *engine.Engine
		builder string
		kind    Kind
		why     string
	}{
		{docker, "", Docker, ""},
		{docker, "default", Docker, ""},
		{docker, "dd", Docker, ""},
		{docker, "rb", Remote, ""},
		{docker, "tls", "", "TLS"},
		{docker, "cont", "", "docker-container driver"},
		{docker, "nosuch", "", `buildx builder "nosuch"`},
		{&engine.Engine{Name: "podman"}, "", "", "podman builds through its own CLI"},
		{&engine.Engine{Name: "docker"}, "", "", "did not answer on its API"},
	}
	for _, c := range cases {
		tg, err := resolve(c.eng, c.builder)
		if c.why != "" {
			if err == nil || !strings.Contains(err.Error(), c.why) {
				t.Errorf("%s/%q: err %v, want %q", c.eng.Name, c.builder, err, c.why)
			}
			continue
		}
		if err != nil || tg.kind != c.kind {
			t.Errorf("%s/%q: %+v, %v; want kind %s", c.eng.Name, c.builder, tg, err, c.kind)
		}
	}
	if tg, _ := resolve(docker, "rb"); tg.address != "tcp://127.0.0.1:1234" {
		t.Errorf("remote address %q", tg.address)
	}
	t.Setenv(EnvMode, "cli")
	if _, err := resolve(docker, ""); err == nil || !strings.Contains(err.Error(), "SLIPWAY_BUILDKIT=cli") {
		t.Errorf("SLIPWAY_BUILDKIT=cli: %v", err)
	}
}

// Without --builder, the builder `docker buildx use` chose is the one.
func TestResolveFollowsCurrentBuilder(t *testing.T) {
	docker := &engine.Engine{Name: "docker", API: &engine.Endpoint{Network: "unix", Address: "/x.sock", Host: "unix:///x.sock"}}
	buildxConfig(t, "cont", map[string]string{
		"cont": `{"Name":"cont","Driver":"docker-container","Nodes":[{"Name":"c0"}]}`,
	})
	if _, err := resolve(docker, ""); err == nil || !strings.Contains(err.Error(), "docker-container") {
		t.Errorf("current builder ignored: %v", err)
	}
	t.Setenv("BUILDX_BUILDER", "default")
	if tg, err := resolve(docker, ""); err != nil || tg.kind != Docker {
		t.Errorf("BUILDX_BUILDER=default: %+v %v", tg, err)
	}
}

func ts(s int) *time.Time {
	t := time.Unix(int64(s), 0)
	return &t
}

func TestStepTracker(t *testing.T) {
	var heard []build.Step
	tr := &stepTracker{on: func(s build.Step) { heard = append(heard, s) }}
	a, b, c := digest.FromString("a"), digest.FromString("b"), digest.FromString("c")
	tr.update(&client.SolveStatus{Vertexes: []*client.Vertex{
		{Digest: a, Name: "[1/2] FROM base"},
		{Digest: b, Name: "[2/2] RUN make", Started: ts(1)},
	}})
	tr.update(&client.SolveStatus{Vertexes: []*client.Vertex{
		{Digest: a, Name: "[1/2] FROM base", Started: ts(1), Completed: ts(1), Cached: true},
		{Digest: b, Name: "[2/2] RUN make", Started: ts(1), Completed: ts(3), Error: "process exited with exit code: 2"},
		{Digest: c, Name: "[internal] other", Started: ts(2), Completed: ts(3), Error: "context canceled"},
	}})
	steps := tr.list()
	if len(steps) != 3 || steps[0].Name != "[1/2] FROM base" || !steps[0].Cached || !steps[1].Done() {
		t.Fatalf("steps: %+v", steps)
	}
	if got := tr.failed(); got != "[2/2] RUN make" {
		t.Errorf("failed step %q", got)
	}
	// Heard: b started; a started+ended (one call), b ended, c started+ended.
	if len(heard) != 4 {
		t.Errorf("OnStep heard %d: %+v", len(heard), heard)
	}
}

func TestExitCodeAndImageID(t *testing.T) {
	for msg, want := range map[string]int{
		`executor failed running [/bin/sh -c exit 3]: exit code: 3`:                        3,
		`process "/bin/sh -c make" did not complete successfully: exit code: 127`:          127,
		`failed to solve: failed to read dockerfile: open Dockerfile: no such file or dir`: 1,
		`wrapped: exit code: 1: executor failed running [/bin/sh -c false]: exit code: 42`: 42,
	} {
		if got := exitCode(errors.New(msg)); got != want {
			t.Errorf("%s: %d, want %d", msg, got, want)
		}
	}
	if id := imageID(map[string]string{"containerimage.digest": "sha256:a", "containerimage.config.digest": "sha256:b"}); id != "sha256:b" {
		t.Errorf("config digest first: %s", id)
	}
	if id := imageID(map[string]string{"containerimage.digest": "sha256:a"}); id != "sha256:a" {
		t.Errorf("old daemon: %s", id)
	}
}

// What the docker driver cannot do goes to the fallback, with a note in
// the service's log.
func TestUnsupportedGoesToFallback(t *testing.T) {
	var got []string
	fb := build.Func(func(_ context.Context, req build.Request) (build.Result, error) {
		got = append(got, req.Service)
		return build.Result{ID: "sha256:cli", Via: "cli"}, nil
	})
	b := &Builder{t: target{kind: Docker}, eng: &engine.Engine{Name: "docker", Bin: "docker"}, fallback: fb}
	for _, spec := range []engine.BuildSpec{
		{PushOnly: true},
		{Platform: "linux/amd64,linux/arm64"},
		{Contexts: map[string]string{"src": "/tmp"}},
	} {
		var log strings.Builder
		res, err := b.Build(context.Background(), build.Request{Service: fmt.Sprint(len(got)), Spec: spec, Log: &log})
		if err != nil || res.ID != "sha256:cli" || !strings.Contains(log.String(), "through the engine's CLI") {
			t.Errorf("%+v: %+v %v %q", spec, res, err, log.String())
		}
	}
	if len(got) != 3 {
		t.Errorf("fallback built %v", got)
	}
	b.fallback = nil
	if _, err := b.Build(context.Background(), build.Request{Service: "x", Spec: engine.BuildSpec{PushOnly: true}}); !errors.Is(err, errUnsupported) {
		t.Errorf("without a fallback: %v", err)
	}
	// A remote builder pushes itself.
	b.t.kind = Remote
	if why := b.unsupported(engine.BuildSpec{PushOnly: true, Platform: "linux/amd64,linux/arm64"}); why != "" {
		t.Errorf("remote push-only: %s", why)
	}
}

func TestSolveOptMirrorsBuildx(t *testing.T) {
	dir := t.TempDir()
	other := t.TempDir()
	b := &Builder{t: target{kind: Docker}, eng: &engine.Engine{Name: "docker"}}
	opt, load, err := b.solveOpt(context.Background(), engine.BuildSpec{
		Dockerfile: filepath.Join(dir, "docker", "app.Dockerfile"), Context: dir, Target: "runtime", Platform: "linux/amd64",
		Args: map[string]string{"A": "1"}, Labels: map[string]string{"l": "v"}, Tags: []string{"r/a:t", "r/a:u"}, NoCache: true,
		Contexts: map[string]string{"src": other, "img": "docker-image://alpine", "context": other},
		Secrets:  []engine.Secret{{ID: "tok", Env: "TOK"}},
	})
	if err == nil {
		// The Dockerfile's folder does not exist: fsutil refuses it.
		t.Fatalf("missing dockerfile folder accepted: %+v", opt)
	}
	if err := os.MkdirAll(filepath.Join(dir, "docker"), 0o755); err != nil {
		t.Fatal(err)
	}
	opt, load, err = b.solveOpt(context.Background(), engine.BuildSpec{
		Dockerfile: filepath.Join(dir, "docker", "app.Dockerfile"), Context: dir, Target: "runtime", Platform: "linux/amd64",
		Args: map[string]string{"A": "1"}, Labels: map[string]string{"l": "v"}, Tags: []string{"r/a:t", "r/a:u"}, NoCache: true,
		Contexts: map[string]string{"src": other, "img": "docker-image://alpine", "context": other},
		Secrets:  []engine.Secret{{ID: "tok", Env: "TOK"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if load != nil {
		t.Error("the docker driver loads nothing itself")
	}
	want := map[string]string{"filename": "app.Dockerfile", "target": "runtime", "platform": "linux/amd64",
		"build-arg:A": "1", "label:l": "v", "no-cache": "", "image-resolve-mode": "local",
		"context:src": "local:src", "context:img": "docker-image://alpine", "context:context": "local:_context"}
	for k, v := range want {
		if got, ok := opt.FrontendAttrs[k]; !ok || got != v {
			t.Errorf("attr %s = %q (%v), want %q", k, got, ok, v)
		}
	}
	for _, m := range []string{"context", "dockerfile", "src", "_context"} {
		if opt.LocalMounts[m] == nil {
			t.Errorf("no local mount %s", m)
		}
	}
	if len(opt.Exports) != 1 || opt.Exports[0].Type != "moby" || opt.Exports[0].Attrs["name"] != "r/a:t,r/a:u" {
		t.Errorf("exports %+v", opt.Exports)
	}
	if len(opt.Session) != 2 {
		t.Errorf("session attachables: %d, want auth + secrets", len(opt.Session))
	}
	// Remote: push-only pushes; else the archive is loaded.
	b.t.kind = Remote
	opt, _, err = b.solveOpt(context.Background(), engine.BuildSpec{Dockerfile: filepath.Join(dir, "docker", "app.Dockerfile"), Context: dir,
		Tags: []string{"reg:5000/a:t"}, PushOnly: true, Insecure: true})
	if err != nil || opt.Exports[0].Type != client.ExporterImage || opt.Exports[0].Attrs["push"] != "true" || opt.Exports[0].Attrs["registry.insecure"] != "true" {
		t.Errorf("push-only: %+v %v", opt.Exports, err)
	}
	if _, ok := opt.FrontendAttrs["image-resolve-mode"]; ok {
		t.Error("a remote builder cannot prefer the engine's images")
	}
	opt, load, err = b.solveOpt(context.Background(), engine.BuildSpec{Dockerfile: filepath.Join(dir, "docker", "app.Dockerfile"), Context: dir, Tags: []string{"a:t"}})
	if err != nil || opt.Exports[0].Type != client.ExporterDocker || opt.Exports[0].Output == nil || load == nil {
		t.Errorf("remote load: %+v %v", opt.Exports, err)
	}
	if err := load.wait(); err != nil {
		t.Errorf("a load that never started: %v", err)
	}
}

func TestAvailabilityString(t *testing.T) {
	if s := (Availability{Direct: true, Via: "docker daemon unix:///s"}).String(); !strings.Contains(s, "direct BuildKit client via docker daemon") {
		t.Error(s)
	}
	if s := (Availability{Reason: "podman builds through its own CLI"}).String(); !strings.Contains(s, "engine CLI (direct BuildKit path not available: podman") {
		t.Error(s)
	}
}

// Auto builds through the CLI, saying why in the log, when the direct
// path is not available; it connects only when something is built.
func TestAutoFallsBackWithANote(t *testing.T) {
	cli := build.Func(func(context.Context, build.Request) (build.Result, error) { return build.Result{ID: "sha256:x"}, nil })
	a := &Auto{Engine: &engine.Engine{Name: "podman"}, CLI: cli}
	if av := a.Availability(); av.Reason != "" || av.Direct {
		t.Errorf("before any build: %+v", av)
	}
	a = &Auto{Engine: &engine.Engine{Name: "podman"}, CLI: cli}
	var log strings.Builder
	res, err := a.Build(context.Background(), build.Request{Service: "s", Log: &log})
	if err != nil || res.ID != "sha256:x" {
		t.Fatal(res, err)
	}
	if !strings.Contains(log.String(), "direct BuildKit path not available: podman builds through its own CLI") {
		t.Errorf("log: %q", log.String())
	}
	if av := a.Availability(); av.Direct || av.Reason == "" {
		t.Errorf("%+v", av)
	}
	if err := a.Close(); err != nil {
		t.Error(err)
	}
}

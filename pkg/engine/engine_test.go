package engine

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeCLI writes a shell script standing in for an engine's CLI.
func fakeCLI(t *testing.T, name, body string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSaveArgv(t *testing.T) {
	d := &Engine{Name: "docker"}
	got, err := d.SaveArgv("a:1", "b:2")
	if err != nil || !slices.Equal(got, []string{"save", "--", "a:1", "b:2"}) {
		t.Errorf("docker: %q %v", got, err)
	}
	// Podman saves only the first image of several (the others become its
	// tags) unless asked for a multi-image archive.
	p := &Engine{Name: "podman"}
	got, err = p.SaveArgv("a:1", "b:2")
	if err != nil || !slices.Equal(got, []string{"save", "--format", "docker-archive", "--multi-image-archive", "--", "a:1", "b:2"}) {
		t.Errorf("podman: %q %v", got, err)
	}
	for _, bad := range []string{"-o/etc/passwd", "--output=x", ""} {
		if _, err := d.SaveArgv("ok:1", bad); err == nil {
			t.Errorf("%q accepted as a ref", bad)
		}
	}
	if err := d.Save(context.Background(), io.Discard, "--output=/tmp/x"); err == nil {
		t.Error("Save ran with a flag as a ref")
	}
}

func TestBuildArgvSecretsContextsAndRedaction(t *testing.T) {
	spec := BuildSpec{Dockerfile: "Dockerfile", Context: ".", Tags: []string{"x:1"},
		Args:     map[string]string{"TOKEN": "hunter2", "EMPTY": ""},
		Secrets:  []Secret{{ID: "npm", Env: "NPM_TOKEN"}, {ID: "key", File: "/run/key"}},
		Contexts: map[string]string{"base": "docker-image://debian:bookworm", "src": "../lib"}}
	bx := &Engine{Name: "docker", Buildx: true}
	argv, err := bx.BuildArgv(spec)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(argv, " ")
	for _, want := range []string{"--secret id=npm,env=NPM_TOKEN", "--secret id=key,src=/run/key",
		"--build-context base=docker-image://debian:bookworm", "--build-context src=../lib"} {
		if !strings.Contains(line, want) {
			t.Errorf("argv lacks %q: %s", want, line)
		}
	}
	pm := &Engine{Name: "podman"}
	argv, err = pm.BuildArgv(spec)
	if err != nil || !strings.Contains(strings.Join(argv, " "), "--secret id=npm,type=env,src=NPM_TOKEN") ||
		!strings.Contains(strings.Join(argv, " "), "--build-context src=../lib") {
		t.Errorf("podman: %v %q", err, argv)
	}
	classic := &Engine{Name: "docker"}
	if _, err := classic.BuildArgv(spec); !errors.Is(err, ErrNoNamedContexts) {
		t.Errorf("classic docker with named contexts: %v", err)
	}
	spec.Contexts = nil
	if _, err := classic.BuildArgv(spec); err != nil {
		t.Errorf("classic docker with secrets: %v", err)
	}
	for _, bad := range []Secret{{ID: "a,b", Env: "X"}, {ID: "a"}, {ID: "a", Env: "X", File: "/f"}, {ID: "a", File: "/x,y"}} {
		if _, err := bx.BuildArgv(BuildSpec{Secrets: []Secret{bad}}); err == nil {
			t.Errorf("secret %+v accepted", bad)
		}
	}
	// What is shown never carries a build-arg value.
	argv, _ = bx.BuildArgv(spec)
	shown := ShowArgv(append(argv, "--build-arg=PASS=s3cret"))
	if strings.Contains(shown, "hunter2") || strings.Contains(shown, "s3cret") ||
		!strings.Contains(shown, "--build-arg TOKEN=…") || !strings.Contains(shown, "--build-arg=PASS=…") {
		t.Errorf("shown: %s", shown)
	}
}

// Ctrl-C while `docker version` hangs is a cancellation, not "no engine".
func TestDetectInterruptedReturnsContextError(t *testing.T) {
	dir := filepath.Dir(fakeCLI(t, "docker", "exec /bin/sleep 30\n"))
	t.Setenv("PATH", dir)
	// No daemon API to answer first: the CLI probe is what hangs here.
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(dir, "no-daemon.sock"))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := Detect(ctx, "docker")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("Detect took %s after the cancel", time.Since(start))
	}
	_, err = Detect(ctx, "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("auto: got %v, want context.Canceled", err)
	}
}

// A container removed between `ps` and `inspect` is dropped, not an error.
func TestImagesInUseToleratesVanishedContainers(t *testing.T) {
	bin := fakeCLI(t, "docker", `case "$1" in
ps) printf 'c1\ngone\nc2\n' ;;
container)
  shift 4
  st=0
  for id in "$@"; do
    if [ "$id" = gone ]; then echo "Error: No such container: gone" >&2; st=1; else echo "sha256:img-$id"; fi
  done
  exit $st ;;
esac
`)
	e := &Engine{Name: "docker", Bin: bin}
	used, err := e.ImagesInUse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !used["sha256:img-c1"] || !used["sha256:img-c2"] || len(used) != 2 {
		t.Errorf("used = %v", used)
	}
	// Any other failure is still an error.
	e.Bin = fakeCLI(t, "docker", `case "$1" in ps) echo c1 ;; *) echo "permission denied" >&2; exit 1 ;; esac`)
	if _, err := e.ImagesInUse(context.Background()); err == nil {
		t.Error("a failing inspect was ignored")
	}
}

// An image removed between the listing and the inspection is left out, on
// an engine that prints nothing for a batch with a missing image.
func TestInspectSomeToleratesVanishedImages(t *testing.T) {
	bin := fakeCLI(t, "podman", `shift 2
for id in "$@"; do [ "$id" = gone ] && { echo "Error: gone: image not known" >&2; exit 125; }; done
printf '['; sep=''
for id in "$@"; do printf '%s{"Id":"%s"}' "$sep" "$id"; sep=,; done
echo ']'
`)
	e := &Engine{Name: "podman", Bin: bin}
	found, err := e.InspectSome(context.Background(), "aaa", "gone", "bbb")
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || found["aaa"] == nil || found["bbb"] == nil {
		t.Errorf("found = %v", found)
	}
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	f.n++
	if f.n > 1 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestSinksDropAFailingWriter(t *testing.T) {
	var good strings.Builder
	bad := &failingWriter{}
	s := NewSinks(bad, &good, nil)
	for _, l := range []string{"one\n", "two\n", "three\n"} {
		if n, err := s.Write([]byte(l)); err != nil || n != len(l) {
			t.Fatalf("Write: %d %v", n, err)
		}
	}
	if bad.n != 2 {
		t.Errorf("the failed writer was called %d times, want 2", bad.n)
	}
	if got := good.String(); !strings.HasPrefix(got, "one\ntwo\n") || !strings.HasSuffix(got, "three\n") ||
		strings.Count(got, "disk full") != 1 {
		t.Errorf("good writer got %q", got)
	}
	if s.Err() == nil {
		t.Error("Err lost the failure")
	}
}

package integration

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-dev/slipway"
)

// The library's own tests against the real engine (moved here from the
// root package, whose unit tests need no engine).

// needLibEngine fails without an engine and gives the test its own state.
func needLibEngine(t *testing.T) {
	t.Helper()
	needEngine(t)
	t.Setenv("SLIPWAY_STATE_DIR", t.TempDir())
	t.Cleanup(func() {
		_, _ = slipway.Prune(context.Background(), slipway.PruneOptions{OlderThan: 0, Project: "hello"})
	})
}

// hello is the library tests' two-service repository.
func hello() string { return filepath.Join(repoRoot(), "testdata", "hello") }

func TestBuildImagesInParallelWritesPrefixedLogs(t *testing.T) {
	needLibEngine(t)
	var out bytes.Buffer
	refs, err := slipway.BuildImagesInParallel(nil, hello(), &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 || !strings.HasPrefix(refs["greeter"], "localhost/hello-greeter:greeter-") {
		t.Fatalf("refs %v", refs)
	}
	if !strings.Contains(out.String(), "[greeter]") || !strings.Contains(out.String(), "[echoer]") {
		t.Fatalf("log lacks per-service prefixes:\n%s", out.String())
	}
	cleanRefs(t, refs)
}

func TestPerServiceLogWriters(t *testing.T) {
	needLibEngine(t)
	var mu sync.Mutex
	logs := map[string]*bytes.Buffer{}
	res, err := slipway.Build(context.Background(), slipway.Options{
		Config: hello(), NoCache: true,
		Logs: func(s string) io.Writer {
			mu.Lock()
			defer mu.Unlock()
			logs[s] = &bytes.Buffer{}
			return lockedWriter{&mu, logs[s]}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Clean(context.Background())
	mu.Lock()
	defer mu.Unlock()
	for _, s := range []string{"greeter", "echoer"} {
		if !strings.Contains(logs[s].String(), "building "+s) {
			t.Errorf("%s's writer lacks its own output", s)
		}
		other := map[string]string{"greeter": "echoer", "echoer": "greeter"}[s]
		if strings.Contains(logs[s].String(), "building "+other) {
			t.Errorf("%s's writer has %s's output", s, other)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestContextCancelStopsBuilds(t *testing.T) {
	needLibEngine(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "slipway.yaml"), []byte("project: cancelme\nservices:\n  slow:\n    dockerfile: Dockerfile\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM slipway.local/base/debian:bookworm\nRUN sleep 313\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(3 * time.Second); cancel() }()
	start := time.Now()
	res, err := slipway.Build(ctx, slipway.Options{Config: dir, NoCache: true})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Fatalf("cancel took %s", el)
	}
	if res.Images["slow"].Status != "cancelled" {
		t.Fatalf("status %s", res.Images["slow"].Status)
	}
	time.Sleep(time.Second)
	if out, _ := exec.Command("pgrep", "-f", "sleep 313").Output(); len(out) > 0 {
		t.Fatalf("build process left: %s", out)
	}
}

func cleanRefs(t *testing.T, refs map[string]string) {
	for _, r := range refs {
		exec.Command("docker", "rmi", r).Run()
	}
}

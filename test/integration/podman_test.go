package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func needPodman(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("podman", "image", "exists", BaseImage).CombinedOutput(); err != nil {
		t.Fatalf("podman with %s is needed (run scripts/setup.sh): %v %s", BaseImage, err, out)
	}
}

func TestPodmanEngineBuildsAndCleans(t *testing.T) {
	needPodman(t)
	r := newRepo(t, map[string]string{"alpha": okWith("alpha-podman")}, "")
	// --no-cache: Podman 4.3's build cache hands back an earlier image of
	// the same content with that build's labels (run, ref), so a first
	// build on a machine that built this before would carry old labels.
	res := r.slipway(context.Background(), nil, "build", "--engine", "podman", "--no-cache", "--progress", "plain")
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	m := res.Meta.Services["alpha"]
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", m.Image).Run() })
	out, err := exec.Command("podman", "image", "inspect", "--format", `{{index .Labels "dev.slipway.run"}}`, m.Image).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != res.Meta.Run {
		t.Fatalf("podman image %s: %v %s", m.Image, err, out)
	}
	if out, err := exec.Command("podman", "run", "--rm", m.Image).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "alpha-podman" {
		t.Errorf("podman run: %v %q", err, out)
	}
	again := r.slipway(context.Background(), nil, "build", "--engine", "podman", "--progress", "quiet")
	if again.Code != 0 || again.Meta.Services["alpha"].Status != "reused" {
		t.Errorf("second podman build: exit %d %+v", again.Code, again.Meta.Services["alpha"])
	}
	clean := r.slipway(context.Background(), nil, "clean", "--run", res.Meta.Run)
	if clean.Code != 0 || exec.Command("podman", "image", "exists", m.Image).Run() == nil {
		t.Errorf("clean under podman: exit %d\n%s%s", clean.Code, clean.Stdout, clean.Stderr)
	}
}

// A cluster whose nodes run under podman, an image built with docker: the
// image is saved from docker and streamed into the podman nodes.
func TestPodmanClusterDockerImage(t *testing.T) {
	needPodman(t)
	needEngine(t)
	name := fmt.Sprintf("pm%d", time.Now().UnixNano()%1000000)
	script := filepath.Join(repoRoot(), "scripts", "kind-nodes.sh")
	create := exec.Command(script, "create", name, "1")
	create.Env = append(os.Environ(), "SLIPWAY_ENGINE=podman")
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("podman nodes: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		del := exec.Command(script, "delete", name)
		del.Env = append(os.Environ(), "SLIPWAY_ENGINE=podman")
		del.Run()
	})
	r := newRepo(t, map[string]string{"alpha": okWith("from-docker")}, "")
	res := r.slipway(context.Background(), nil, "build", "--engine", "docker", "--kind", "--cluster="+name, "--progress", "plain")
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	ref := res.Meta.Services["alpha"].Image
	for _, n := range []string{name + "-control-plane", name + "-worker"} {
		out, err := exec.Command("podman", "exec", n, "ctr", "-n", "k8s.io", "run", "--rm", ref, "x-"+n).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "from-docker" {
			t.Errorf("%s: %v %q", n, err, out)
		}
	}
	kind := exec.Command("kind", "get", "nodes", "--name", name)
	kind.Env = append(os.Environ(), "KIND_EXPERIMENTAL_PROVIDER=podman")
	if out, err := kind.CombinedOutput(); err != nil || !strings.Contains(string(out), name+"-worker") {
		t.Errorf("kind (podman provider) does not see the nodes: %v %s", err, out)
	}
}

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// newCluster creates a Kind-shaped cluster (control plane + one worker)
// with scripts/kind-nodes.sh and removes it when the test ends.
func newCluster(t *testing.T) (name string, nodes []string) {
	t.Helper()
	return newClusterNamed(t, clusterName())
}

// clusterName is a name no other test's cluster has.
func clusterName() string { return fmt.Sprintf("sw%d", time.Now().UnixNano()%1000000) }

// newClusterNamed is newCluster under a name chosen beforehand.
func newClusterNamed(t *testing.T, name string) (string, []string) {
	t.Helper()
	needEngine(t)
	if _, err := exec.LookPath("kind"); err != nil {
		t.Fatalf("the kind CLI is needed as a cross-check (run scripts/setup.sh): %v", err)
	}
	script := filepath.Join(repoRoot(), "scripts", "kind-nodes.sh")
	if out, err := exec.Command(script, "create", name, "1").CombinedOutput(); err != nil {
		t.Fatalf("creating nodes: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(script, "delete", name).Run() })
	return name, []string{name + "-control-plane", name + "-worker"}
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func nodeExec(t *testing.T, node string, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", append([]string{"exec", node}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %v\n%s", node, args, err, out)
	}
	return string(out)
}

// loadEngines are the engines the Kind load tests run with: images built by
// each go into the same Docker-run Kind-shaped nodes, saved by that engine.
var loadEngines = []string{"docker", "podman"}

// forEngines runs f once per engine in loadEngines, as a subtest.
func forEngines(t *testing.T, f func(t *testing.T, eng string)) {
	for _, eng := range loadEngines {
		t.Run(eng, func(t *testing.T) {
			if eng == "podman" {
				needPodman(t)
			}
			f(t, eng)
		})
	}
}

// engineRepo is newRepo whose images, under podman, are removed from
// podman too when the test ends.
func engineRepo(t *testing.T, eng string, dockerfiles map[string]string) *repo {
	t.Helper()
	r := newRepo(t, dockerfiles, "")
	if eng == "podman" {
		t.Cleanup(func() {
			out, _ := exec.Command("podman", "image", "ls", "--filter", "label=dev.slipway.project="+r.Project, "-q").Output()
			if ids := strings.Fields(string(out)); len(ids) > 0 {
				exec.Command("podman", append([]string{"rmi", "-f"}, ids...)...).Run()
			}
		})
	}
	return r
}

func TestKindBuildLoadsAndRuns(t *testing.T) {
	forEngines(t, func(t *testing.T, eng string) {
		cluster, nodes := newCluster(t)
		r := engineRepo(t, eng, map[string]string{"alpha": okWith("alpha-says-hi"), "beta": okWith("beta-says-hi")})
		res := r.slipway(context.Background(), nil, "build", "--engine", eng, "--kind", "--cluster="+cluster, "--progress", "plain")
		if res.Code != 0 {
			t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
		}
		for _, svc := range []string{"alpha", "beta"} {
			m := res.Meta.Services[svc]
			if m.Kind == nil || m.Kind.Cluster != cluster || len(m.Kind.Nodes) != 2 {
				t.Fatalf("%s: metadata lacks the load: %+v", svc, m.Kind)
			}
			for _, n := range nodes {
				if a := m.Kind.Nodes[n]; a != "loaded" {
					t.Errorf("%s on %s: %q, want loaded", svc, n, a)
				}
				if imgs := nodeExec(t, n, "crictl", "images"); !strings.Contains(imgs, strings.SplitN(m.Image, ":", 2)[0]) {
					t.Errorf("%s: crictl images on %s lacks %s:\n%s", svc, n, m.Image, imgs)
				}
				out := nodeExec(t, n, "ctr", "-n", "k8s.io", "run", "--rm", m.Image, "t-"+svc)
				if strings.TrimSpace(out) != svc+"-says-hi" {
					t.Errorf("%s on %s printed %q", svc, n, out)
				}
			}
			if eng == "docker" {
				// The real kind CLI agrees the image is there.
				out, err := exec.Command("kind", "load", "docker-image", "--name", cluster, m.Image).CombinedOutput()
				if err != nil || !strings.Contains(string(out), "already present") {
					t.Errorf("kind load after slipway: %v\n%s", err, out)
				}
			}
		}
		// A second load sends nothing.
		alpha := res.Meta.Services["alpha"].Image
		load := r.slipway(context.Background(), nil, "load", "--engine", eng, "--cluster", cluster, "alpha", res.Meta.Services["beta"].Image)
		if load.Code != 0 || strings.Count(load.Stdout, "=present") != 4 || strings.Contains(load.Stdout, "=loaded") {
			t.Fatalf("second load: exit %d\n%s\n%s", load.Code, load.Stdout, load.Stderr)
		}
		// Same content under a new name: re-tagged on the nodes, not sent again.
		renamed := strings.SplitN(alpha, ":", 2)[0] + ":renamed"
		if out, err := exec.Command(eng, "tag", alpha, renamed).CombinedOutput(); err != nil {
			t.Fatalf("%s tag: %v %s", eng, err, out)
		}
		load = r.slipway(context.Background(), nil, "load", "--engine", eng, "--cluster", cluster, renamed)
		if load.Code != 0 || strings.Count(load.Stdout, "=retagged") != 2 {
			t.Fatalf("retag: exit %d\n%s\n%s", load.Code, load.Stdout, load.Stderr)
		}
		if out := nodeExec(t, nodes[1], "crictl", "inspecti", renamed); !strings.Contains(out, res.Meta.Services["alpha"].ID) {
			t.Errorf("renamed image has another ID on the node:\n%s", out)
		}
	})
}

// Several images the nodes lack, loaded by one `slipway load`: one save of
// all of them streamed to every node at once. Under podman that save must
// be a multi-image archive, or every node reports the second image missing.
func TestKindLoadSeveralImagesInOneStream(t *testing.T) {
	forEngines(t, func(t *testing.T, eng string) {
		cluster, nodes := newCluster(t)
		svcs := map[string]string{"one": okWith("one-ok"), "two": okWith("two-ok"), "three": okWith("three-ok")}
		r := engineRepo(t, eng, svcs)
		res := r.slipway(context.Background(), nil, "build", "--engine", eng, "--progress", "quiet")
		if res.Code != 0 {
			t.Fatalf("build: exit %d\n%s", res.Code, res.Stderr)
		}
		var refs []string
		for svc := range svcs {
			refs = append(refs, res.Meta.Services[svc].Image)
		}
		load := r.slipway(context.Background(), nil, append([]string{"load", "--engine", eng, "--cluster", cluster}, refs...)...)
		if load.Code != 0 || strings.Count(load.Stdout, "=loaded") != 6 {
			t.Fatalf("load of %d images: exit %d\n%s\n%s", len(refs), load.Code, load.Stdout, load.Stderr)
		}
		for svc := range svcs {
			m := res.Meta.Services[svc]
			for _, n := range nodes {
				if out := nodeExec(t, n, "crictl", "inspecti", m.Image); !strings.Contains(out, m.ID) {
					t.Errorf("%s on %s has another ID:\n%s", m.Image, n, out)
				}
				if out := nodeExec(t, n, "ctr", "-n", "k8s.io", "run", "--rm", m.Image, "s-"+svc); strings.TrimSpace(out) != svc+"-ok" {
					t.Errorf("%s on %s printed %q", svc, n, out)
				}
			}
		}
	})
}

func TestKindErrors(t *testing.T) {
	cluster, nodes := newCluster(t)
	r := newRepo(t, map[string]string{"alpha": okWith("a")}, "")

	res := r.slipway(context.Background(), nil, "build", "--kind", "--cluster=no-such-cluster", "--progress", "quiet")
	if res.Code != 2 || !strings.Contains(res.Stderr, `no Kind cluster "no-such-cluster"`) {
		t.Fatalf("missing cluster: exit %d: %s", res.Code, res.Stderr)
	}
	if len(res.Meta.Services) != 0 {
		t.Fatal("a build started although the cluster was missing")
	}

	res = r.slipway(context.Background(), nil, "build", "--progress", "quiet")
	if res.Code != 0 {
		t.Fatalf("build: %s", res.Stderr)
	}
	ref := res.Meta.Services["alpha"].Image
	if out, err := exec.Command("docker", "stop", "-t", "1", nodes[1]).CombinedOutput(); err != nil {
		t.Fatalf("stopping node: %v %s", err, out)
	}
	load := r.slipway(context.Background(), nil, "load", "--cluster", cluster, ref)
	if load.Code == 0 || !strings.Contains(load.Stderr, nodes[1]) || !strings.Contains(load.Stderr, ref) {
		t.Fatalf("stopped node: exit %d\n%s\n%s", load.Code, load.Stdout, load.Stderr)
	}
	if n := strings.Count(strings.TrimSpace(load.Stderr), "\n"); n > 2 {
		t.Errorf("error is %d lines:\n%s", n+1, load.Stderr)
	}
}

func TestLoadLeavesNoTempFiles(t *testing.T) {
	cluster, _ := newCluster(t)
	r := newRepo(t, map[string]string{"alpha": okWith("a"), "beta": okWith("b")}, "")
	tmp := t.TempDir()
	env := []string{"TMPDIR=" + tmp}
	res := r.slipway(context.Background(), env, "build", "--kind", "--cluster="+cluster, "--progress", "quiet")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	ents, _ := os.ReadDir(tmp)
	if len(ents) != 0 {
		t.Fatalf("temp files left: %v", ents)
	}
}

func TestLayerAwareLoadOfImageSharingABase(t *testing.T) {
	forEngines(t, func(t *testing.T, eng string) {
		cluster, nodes := newCluster(t)
		r := engineRepo(t, eng, map[string]string{"first": okWith("first-ok"), "second": okWith("second-ok")})
		first := r.slipway(context.Background(), nil, "build", "first", "--engine", eng, "--kind", "--cluster="+cluster, "--progress", "quiet")
		if first.Code != 0 {
			t.Fatal(first.Stderr)
		}
		// The nodes now hold the base layer; the second image's load sends
		// only its own layer and config (pkg/kind/layers.go), and must still work.
		second := r.slipway(context.Background(), nil, "build", "second", "--engine", eng, "--kind", "--cluster="+cluster, "--progress", "quiet")
		if second.Code != 0 {
			t.Fatal(second.Stderr)
		}
		m := second.Meta.Services["second"]
		for _, n := range nodes {
			if m.Kind.Nodes[n] != "loaded" {
				t.Errorf("%s: %q", n, m.Kind.Nodes[n])
			}
			if out := nodeExec(t, n, "ctr", "-n", "k8s.io", "run", "--rm", m.Image, "la-"+n); strings.TrimSpace(out) != "second-ok" {
				t.Errorf("%s printed %q", n, out)
			}
			if out := nodeExec(t, n, "crictl", "inspecti", m.Image); !strings.Contains(out, m.ID) {
				t.Errorf("%s on %s has another ID:\n%s", m.Image, n, out)
			}
		}
		if eng == "docker" {
			out, err := exec.Command("kind", "load", "docker-image", "--name", cluster, m.Image).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "already present") {
				t.Errorf("kind load after a layer-aware load: %v\n%s", err, out)
			}
		}
	})
}

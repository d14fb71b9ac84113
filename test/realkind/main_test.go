// Package realkind tests slipway against a real Kind cluster: a node image
// built on this machine from source (scripts/kind-node-image.sh), with
// systemd, containerd 2.x and a kubelet that decides through the CRI
// whether an image is present. The Kind-shaped nodes of test/integration
// are fast stand-ins; these tests check that real kubelets agree with what
// slipway does on a node (no-unpack imports, layer-aware loads, re-tags,
// removing images while pods run).
//
// The cluster is created once per test binary and deleted at the end
// (SLIPWAY_KEEP_CLUSTER=1 keeps it for the next run, which then reuses it).
// A missing component is a failure, never a skip.
package realkind

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	repoRoot   string
	slipwayBin string
	nodeImage  string
	// cluster is the Kind cluster every test uses.
	cluster = "slipway-real"
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	wd, _ := os.Getwd()
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	tmp, err := os.MkdirTemp("", "slipway-realkind-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	slipwayBin = filepath.Join(tmp, "slipway")
	if out, err := command(ctx, repoRoot, nil, "go", "build", "-o", slipwayBin, "./cmd/slipway"); err != nil {
		fmt.Fprintf(os.Stderr, "building slipway: %v\n%s", err, out)
		return 1
	}
	// The node image is built here from source (nothing can be pulled);
	// the script is idempotent and prints the image as its last line.
	// scripts/test.sh has built it already and says which it is.
	nodeImage = os.Getenv("SLIPWAY_REAL_NODE_IMAGE")
	if nodeImage == "" {
		script := exec.CommandContext(ctx, filepath.Join(repoRoot, "scripts", "kind-node-image.sh"))
		script.Stderr = os.Stderr
		outb, err := script.Output()
		if err != nil {
			fmt.Fprintf(os.Stderr, "scripts/kind-node-image.sh: %v\n", err)
			return 1
		}
		lines := strings.Split(strings.TrimSpace(string(outb)), "\n")
		nodeImage = strings.TrimSpace(lines[len(lines)-1])
	}
	if out, err := command(ctx, repoRoot, nil, "docker", "image", "inspect", "--format", "{{.Id}}", nodeImage); err != nil {
		fmt.Fprintf(os.Stderr, "realkind: node image %q is not in the engine: %v\n%s", nodeImage, err, out)
		return 1
	}
	fmt.Fprintf(os.Stderr, "realkind: node image %s\n", nodeImage)
	if v := os.Getenv("SLIPWAY_REAL_CLUSTER"); v != "" {
		cluster = v
	}
	// The --kind-wait build starts just before the cluster's creation (or
	// once a Ready one is found): its loads wait for the nodes.
	startWait := func() error {
		var err error
		kindWait, err = startWaitBuild(ctx, tmp)
		return err
	}
	created, err := ensureCluster(ctx, startWait)
	if err != nil {
		fmt.Fprintln(os.Stderr, "realkind:", err)
		return 1
	}
	code := m.Run()
	if kindWait != nil {
		<-kindWait.done // its process must not outlive the cluster it waits for
	}
	if created && os.Getenv("SLIPWAY_KEEP_CLUSTER") == "" {
		if out, err := command(context.Background(), repoRoot, nil, "kind", "delete", "cluster", "--name", cluster); err != nil {
			fmt.Fprintf(os.Stderr, "deleting cluster %s: %v\n%s", cluster, err, out)
		}
	}
	return code
}

// ensureCluster reuses a Ready cluster of this name made from this node
// image, or creates one (one control plane, one worker). created says
// whether this run made it, and so should delete it.
// before runs just before the creation, or once a Ready cluster is found.
func ensureCluster(ctx context.Context, before func() error) (created bool, err error) {
	out, err := command(ctx, repoRoot, nil, "kind", "get", "clusters")
	if err != nil {
		return false, fmt.Errorf("kind get clusters: %v\n%s", err, out)
	}
	for _, c := range strings.Fields(out) {
		if c != cluster {
			continue
		}
		img, _ := command(ctx, repoRoot, nil, "docker", "inspect", "-f", "{{.Config.Image}}", cluster+"-control-plane")
		if strings.TrimSpace(img) == nodeImage {
			if err := waitNodesReady(ctx, 3*time.Minute); err == nil {
				return false, before()
			}
		}
		// An old or broken cluster of the same name: start again.
		if out, err := command(ctx, repoRoot, nil, "kind", "delete", "cluster", "--name", cluster); err != nil {
			return false, fmt.Errorf("deleting stale cluster %s: %v\n%s", cluster, err, out)
		}
	}
	// The one cluster shape of tests, example and benchmark.
	cfg := filepath.Join(repoRoot, "scripts", "lib", "kind-cluster.yaml")
	if err := before(); err != nil {
		return false, err
	}
	t0 := time.Now()
	// One more try: on a loaded machine kubeadm's fixed waits can give up
	// while the API server restarts (seen at load 70: "connection refused"
	// in wait-control-plane). A second failure is the test's failure.
	for try := 1; ; try++ {
		out, err := command(ctx, repoRoot, nil, "kind", "create", "cluster", "--name", cluster, "--image", nodeImage,
			"--config", cfg, "--wait", "5m")
		if err == nil {
			break
		}
		if try == 2 || ctx.Err() != nil {
			return true, fmt.Errorf("kind create cluster (try %d): %v\n%s", try, err, tail(out, 60))
		}
		fmt.Fprintf(os.Stderr, "realkind: kind create cluster failed, trying again: %v\n%s\n", err, tail(out, 20))
		command(ctx, repoRoot, nil, "kind", "delete", "cluster", "--name", cluster)
	}
	fmt.Fprintf(os.Stderr, "realkind: cluster %s Ready in %s\n", cluster, time.Since(t0).Round(time.Second))
	return true, waitNodesReady(ctx, 3*time.Minute)
}

// kubectl runs kubectl inside the control-plane node, which has it and an
// admin kubeconfig: the host needs no kubectl of its own.
func kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	argv := append([]string{"exec", "-i", cluster + "-control-plane", "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf"}, args...)
	cmd := exec.CommandContext(ctx, "docker", argv...)
	cmd.Stdin = strings.NewReader(stdin)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

func waitNodesReady(ctx context.Context, d time.Duration) error {
	out, err := kubectl(ctx, "", "wait", "--for=condition=Ready", "nodes", "--all", "--timeout="+d.String())
	if err != nil {
		return fmt.Errorf("nodes of %s not Ready: %v\n%s", cluster, err, out)
	}
	return nil
}

// command runs name in dir with extra environment, returning its combined
// output.
func command(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

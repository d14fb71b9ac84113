package realkind

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// waitBuild is a `slipway build --kind-wait` started beside the cluster's
// creation (before it when this run creates the cluster), as a user of
// --kind-wait runs it; TestKindWaitOnRealCluster checks what it did.
type waitBuild struct {
	dir, state, meta string
	done             chan struct{}
	out              string
	err              error
}

// startWaitBuild writes a one-service project and starts its build into
// the cluster, waiting for the cluster's nodes.
func startWaitBuild(ctx context.Context, tmp string) (*waitBuild, error) {
	w := &waitBuild{dir: filepath.Join(tmp, "kindwait"), state: filepath.Join(tmp, "kindwait-state"),
		meta: filepath.Join(tmp, "kindwait.json"), done: make(chan struct{})}
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return nil, err
	}
	files := map[string]string{
		"slipway.yaml": "project: kindwait\nservices:\n  hello:\n    dockerfile: Dockerfile\n",
		"Dockerfile":   "FROM slipway.local/base/debian:bookworm\nRUN echo waited-for-the-cluster > /msg\nCMD [\"sleep\", \"infinity\"]\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(w.dir, name), []byte(body), 0o644); err != nil {
			return nil, err
		}
	}
	go func() {
		defer close(w.done)
		w.out, w.err = command(ctx, w.dir, []string{"SLIPWAY_STATE_DIR=" + w.state}, slipwayBin,
			"build", "--cluster", cluster, "--kind-wait", "20m", "--progress", "plain", "--metadata-file", w.meta)
	}()
	return w, nil
}

var kindWait *waitBuild

// TestKindWaitOnRealCluster: the build started while `kind create cluster`
// ran (when this test binary created the cluster) loaded its image into
// both real nodes once kubeadm had joined them, and the kubelet's CRI sees
// it there.
func TestKindWaitOnRealCluster(t *testing.T) {
	if kindWait == nil {
		t.Fatal("the --kind-wait build was not started")
	}
	<-kindWait.done
	if kindWait.err != nil {
		t.Fatalf("slipway build --kind-wait: %v\n%s", kindWait.err, tail(kindWait.out, 40))
	}
	t.Cleanup(func() {
		command(context.Background(), kindWait.dir, []string{"SLIPWAY_STATE_DIR=" + kindWait.state}, slipwayBin, "clean", "--last")
	})
	b, err := os.ReadFile(kindWait.meta)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Services map[string]struct {
			Image string `json:"image"`
			Kind  *struct {
				Cluster string            `json:"cluster"`
				Nodes   map[string]string `json:"nodes"`
			} `json:"kind"`
		} `json:"services"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	h := m.Services["hello"]
	if h.Kind == nil || h.Kind.Cluster != cluster || len(h.Kind.Nodes) != 2 {
		t.Fatalf("metadata lacks the load into both nodes: %s", b)
	}
	for node, action := range h.Kind.Nodes {
		if action != "loaded" && action != "present" {
			t.Errorf("%s: %q", node, action)
		}
		out, err := command(context.Background(), repoRoot, nil, "docker", "exec", node, "crictl", "inspecti", h.Image)
		if err != nil || !strings.Contains(out, h.Image) {
			t.Errorf("the CRI on %s does not see %s: %v\n%s", node, h.Image, err, tail(out, 10))
		}
	}
	if !strings.Contains(kindWait.out, "waiting for Kind cluster "+cluster) {
		t.Logf("the cluster was ready when the load came (a reused cluster):\n%s", tail(kindWait.out, 10))
	}
}

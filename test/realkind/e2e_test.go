package realkind

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// entrypoints are the example fleet's commands. The services print and
// exit; a pod must stay up to be Ready, so each Deployment runs the
// service once and then sleeps.
var entrypoints = map[string]string{
	"gateway": "/usr/local/bin/gateway", "datastorage": "/usr/local/bin/datastorage",
	"notification": "/usr/local/bin/notification", "aianalysis": "/usr/local/bin/aianalysis",
	"workflow": "/usr/local/bin/workflow", "remediation": "/usr/local/bin/remediation",
	"signalprocessing": "/usr/local/bin/signalprocessing", "api": "python3 /app/app.py",
}

// record is the part of slipway's metadata these tests read.
type record struct {
	Run      string `json:"run"`
	Services map[string]struct {
		Image  string `json:"image"`
		ID     string `json:"id"`
		Status string `json:"status"`
		Kind   *struct {
			Nodes map[string]string          `json:"nodes"`
			Loads map[string]json.RawMessage `json:"loads"`
		} `json:"kind"`
	} `json:"services"`
}

// fleet copies examples/fleet into a fresh git repo, so a test can edit it.
func fleet(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fleet")
	ctx := context.Background()
	if out, err := command(ctx, repoRoot, nil, "cp", "-a", filepath.Join(repoRoot, "examples", "fleet"), dir); err != nil {
		t.Fatalf("copying the fleet: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "fleet"}} {
		if out, err := command(ctx, dir, nil, "git", args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

// slipway runs the CLI in dir as user, with the test cluster as the
// default Kind cluster and its own state folder.
func slipway(t *testing.T, dir, user, state string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	env := []string{"USER=" + user, "KIND_CLUSTER_NAME=" + cluster, "XDG_STATE_HOME=" + state, "SLIPWAY_STATE_DIR=" + filepath.Join(state, "slipway")}
	out, err := command(ctx, dir, env, slipwayBin, args...)
	if err != nil {
		t.Fatalf("slipway %s: %v\n%s", strings.Join(args, " "), err, tail(out, 60))
	}
	return out
}

func readRecord(t *testing.T, path string) record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return r
}

func deployment(name, ref string) string { return deploymentOn(name, ref, entrypoints[name], "") }

// deploymentOn is a Deployment of one pod running command from ref with
// imagePullPolicy: Never, on node when one is named (tolerating the
// control plane's taint).
func deploymentOn(name, ref, command, node string) string {
	pin := ""
	if node != "" {
		pin = "\n      nodeName: " + node + "\n      tolerations: [{operator: Exists}]"
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels: {app: %[1]s}
spec:
  replicas: 1
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:%[4]s
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: %[2]s
        imagePullPolicy: Never
        command: ["/bin/sh", "-c", "%[3]s; exec sleep 2147483647"]
---
`, name, ref, command, pin)
}

// nodeRefs lists the image names a node's CRI knows.
func nodeRefs(t *testing.T, node string) []string {
	t.Helper()
	out, err := command(context.Background(), repoRoot, nil, "docker", "exec", node, "crictl", "images", "-o", "json")
	if err != nil {
		t.Fatalf("crictl images on %s: %v\n%s", node, err, out)
	}
	var v struct {
		Images []struct {
			RepoTags []string `json:"repoTags"`
		} `json:"images"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("reading crictl images on %s: %v", node, err)
	}
	var refs []string
	for _, im := range v.Images {
		refs = append(refs, im.RepoTags...)
	}
	return refs
}

// podImages maps each app's running pod to the image ID its container runs.
func podImages(t *testing.T, ns string) map[string]string {
	t.Helper()
	out, err := kubectl(context.Background(), "", "-n", ns, "get", "pods", "-o", "json")
	if err != nil {
		t.Fatalf("kubectl get pods: %v\n%s", err, out)
	}
	var v struct {
		Items []struct {
			Metadata struct {
				Labels            map[string]string `json:"labels"`
				DeletionTimestamp *string           `json:"deletionTimestamp"`
			} `json:"metadata"`
			Status struct {
				Phase             string `json:"phase"`
				ContainerStatuses []struct {
					Image   string `json:"image"`
					ImageID string `json:"imageID"`
					Ready   bool   `json:"ready"`
				} `json:"containerStatuses"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("reading pods: %v\n%s", err, out)
	}
	m := map[string]string{}
	for _, p := range v.Items {
		if p.Metadata.DeletionTimestamp != nil || len(p.Status.ContainerStatuses) == 0 || !p.Status.ContainerStatuses[0].Ready {
			continue
		}
		m[p.Metadata.Labels["app"]] = p.Status.ContainerStatuses[0].Image
	}
	return m
}

func rollout(t *testing.T, ns string, names ...string) {
	t.Helper()
	for _, n := range names {
		if out, err := kubectl(context.Background(), "", "-n", ns, "rollout", "status", "deployment/"+n, "--timeout=5m"); err != nil {
			desc, _ := kubectl(context.Background(), "", "-n", ns, "describe", "pods", "-l", "app="+n)
			t.Fatalf("deployment %s did not roll out: %v\n%s\n%s", n, err, out, tail(desc, 40))
		}
	}
}

// TestFleetOnRealCluster is the product's main promise on a real kubelet:
// build the fleet straight into the cluster, run a pod of each image with
// imagePullPolicy: Never until Ready; change one line of one service and
// see only that image sent (layer-aware) and its Deployment roll; then
// clean the first run, which must keep the images running pods use and
// break no pod.
func TestFleetOnRealCluster(t *testing.T) {
	ctx := context.Background()
	dir := fleet(t)
	state := t.TempDir()
	user := fmt.Sprintf("realkind%d", time.Now().UnixNano()%1_000_000)
	ns := "slipway-" + user
	if out, err := kubectl(ctx, "", "create", "namespace", ns); err != nil {
		t.Fatalf("creating namespace: %v\n%s", err, out)
	}
	// At the end the pods go first, then every image the test's runs made.
	var runs []string
	t.Cleanup(func() {
		kubectl(context.Background(), "", "delete", "namespace", ns, "--timeout=3m")
		for _, id := range runs {
			slipway(t, dir, user, state, "clean", "--run", id)
		}
	})

	// 1. Build every service straight into the cluster's nodes.
	meta1 := filepath.Join(t.TempDir(), "run1.json")
	slipway(t, dir, user, state, "build", "--kind", "--progress", "plain", "--metadata-file", meta1)
	r1 := readRecord(t, meta1)
	runs = append(runs, r1.Run)
	services := slices.Sorted(func(yield func(string) bool) {
		for s := range r1.Services {
			if !yield(s) {
				return
			}
		}
	})
	if len(services) != len(entrypoints) {
		t.Fatalf("built %v, want the %d fleet services", services, len(entrypoints))
	}
	var manifests strings.Builder
	for _, s := range services {
		svc := r1.Services[s]
		if svc.Kind == nil || len(svc.Kind.Nodes) != 2 {
			t.Fatalf("%s was not loaded into both nodes: %+v", s, svc.Kind)
		}
		manifests.WriteString(deployment(s, svc.Image))
	}
	if out, err := kubectl(ctx, manifests.String(), "-n", ns, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	t0 := time.Now()
	rollout(t, ns, services...)
	t.Logf("every pod Ready %s after apply", time.Since(t0).Round(time.Millisecond))
	running := podImages(t, ns)
	for _, s := range services {
		if running[s] == "" {
			t.Fatalf("no Ready pod of %s (pods: %v)", s, running)
		}
	}

	// 2. One line of one service changes: only its image is sent.
	main := filepath.Join(dir, "cmd", "gateway", "main.go")
	b, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), `"port="`, `"listen-port="`, 1)
	if edited == string(b) {
		t.Fatal("the edit changed nothing: cmd/gateway/main.go moved on; update the test")
	}
	if err := os.WriteFile(main, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	meta2 := filepath.Join(t.TempDir(), "run2.json")
	slipway(t, dir, user, state, "build", "--kind", "--progress", "plain", "--metadata-file", meta2)
	r2 := readRecord(t, meta2)
	runs = append(runs, r2.Run)
	for _, s := range services {
		svc := r2.Services[s]
		want := "reused"
		if s == "gateway" {
			want = "built"
		}
		if svc.Status != want {
			t.Errorf("%s: status %s after a change to gateway only, want %s", s, svc.Status, want)
		}
		for node, action := range svc.Kind.Nodes {
			if s == "gateway" && action != "loaded" {
				t.Errorf("gateway on %s: %s, want loaded", node, action)
			}
			if s != "gateway" && action == "loaded" {
				t.Errorf("%s on %s was sent again though its image did not change", s, node)
			}
		}
	}
	// The changed image shares its base layers with what the nodes hold:
	// a layer-aware load skips them.
	for node, raw := range r2.Services["gateway"].Kind.Loads {
		var nl struct {
			BytesSkipped int64 `json:"bytes_skipped"`
			BytesSent    int64 `json:"bytes_sent"`
		}
		if err := json.Unmarshal(raw, &nl); err == nil && nl.BytesSent+nl.BytesSkipped > 0 && nl.BytesSkipped == 0 {
			t.Errorf("gateway's load to %s skipped no layer (sent %d bytes): layer-aware loading found nothing on a real node", node, nl.BytesSent)
		}
	}
	newRef := r2.Services["gateway"].Image
	if out, err := kubectl(ctx, "", "-n", ns, "set", "image", "deployment/gateway", "app="+newRef); err != nil {
		t.Fatalf("kubectl set image: %v\n%s", err, out)
	}
	rollout(t, ns, "gateway")
	if got := podImages(t, ns)["gateway"]; !strings.Contains(got, strings.TrimPrefix(newRef, "docker.io/")) && got != newRef {
		t.Errorf("gateway's pod runs %s, want %s", got, newRef)
	}

	// 3. Cleaning the first run removes what no pod uses (the old gateway)
	// and keeps, and reports, the images running pods still use.
	out := slipway(t, dir, user, state, "clean", "--run", r1.Run)
	t.Logf("clean --run %s:\n%s", r1.Run, out)
	oldGateway := r1.Services["gateway"].Image
	for _, node := range []string{cluster + "-control-plane", cluster + "-worker"} {
		refs := nodeRefs(t, node)
		if slices.Contains(refs, oldGateway) {
			t.Errorf("%s still holds %s, which no pod uses", node, oldGateway)
		}
		if !slices.Contains(refs, newRef) {
			t.Errorf("%s lost %s (the next run's image)", node, newRef)
		}
	}
	for _, s := range services {
		if s != "gateway" && !strings.Contains(out, r1.Services[s].Image) {
			t.Errorf("clean did not report %s, which a running pod uses", r1.Services[s].Image)
		}
	}
	// No pod broke: every one is still Ready, and a restart of each (a
	// new pod from the same image) still finds its image on the node.
	if out, err := kubectl(ctx, "", "-n", ns, "rollout", "restart", "deployment"); err != nil {
		t.Fatalf("kubectl rollout restart: %v\n%s", err, out)
	}
	rollout(t, ns, services...)
	if got := podImages(t, ns); len(got) != len(services) {
		t.Errorf("after clean and restart, Ready pods: %v", got)
	}
}

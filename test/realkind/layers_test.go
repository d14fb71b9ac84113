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

// TestLayersAfterPodsRan checks layer-aware loading against a real node's
// content store. The node image's containerd 2.x has
// discard_unpacked_layers = true, which lets the CRI drop a layer's blob
// once it is unpacked. The first image is loaded with --no-unpack
// (kind.UnpackOnFirstUse), so the CRI itself unpacks it when the pods
// start; the later ones with the default (unpacking at import). After
// pods of an image ran on both nodes, do the nodes still hold its layers
// (a changed image then skips them)? And where a node lost them, does the
// load send them again (no skipped bytes, no failed import) and do pods of
// the new image start there?
func TestLayersAfterPodsRan(t *testing.T) {
	ctx := context.Background()
	dir := fleet(t)
	state := t.TempDir()
	user := fmt.Sprintf("layers%d", time.Now().UnixNano()%1_000_000)
	ns := "slipway-" + user
	nodes := []string{cluster + "-control-plane", cluster + "-worker"}
	if out, err := kubectl(ctx, "", "create", "namespace", ns); err != nil {
		t.Fatalf("creating namespace: %v\n%s", err, out)
	}
	var runs []string
	t.Cleanup(func() {
		kubectl(context.Background(), "", "delete", "namespace", ns, "--timeout=3m")
		for _, id := range runs {
			slipway(t, dir, user, state, "clean", "--run", id)
		}
	})
	for _, node := range nodes {
		out, err := command(ctx, repoRoot, nil, "docker", "exec", node, "containerd", "config", "dump")
		if err != nil {
			t.Fatalf("containerd config dump on %s: %v\n%s", node, err, tail(out, 20))
		}
		if !strings.Contains(out, "discard_unpacked_layers = true") {
			t.Errorf("%s: containerd does not discard unpacked layers; real kindest/node images do, so this test would prove nothing", node)
		}
	}

	// 1. gateway into both nodes, a pod of it Ready on each (kind's control
	// plane is tainted: the pod names its node and tolerates the taint).
	build := func(name string) record {
		meta := filepath.Join(t.TempDir(), name+".json")
		slipway(t, dir, user, state, "build", "gateway", "--kind", "--progress", "plain", "--metadata-file", meta)
		r := readRecord(t, meta)
		runs = append(runs, r.Run)
		if r.Services["gateway"].Kind == nil || len(r.Services["gateway"].Kind.Nodes) != len(nodes) {
			t.Fatalf("%s: gateway not loaded into both nodes: %+v", name, r.Services["gateway"].Kind)
		}
		return r
	}
	deploy := func(ref string) {
		var m strings.Builder
		for _, node := range nodes {
			m.WriteString(pinned("gateway-"+strings.TrimPrefix(node, cluster+"-"), node, ref))
		}
		if out, err := kubectl(ctx, m.String(), "-n", ns, "apply", "-f", "-"); err != nil {
			t.Fatalf("kubectl apply: %v\n%s", err, out)
		}
		rollout(t, ns, "gateway-control-plane", "gateway-worker")
	}
	t.Setenv("SLIPWAY_KIND_UNPACK", "on-first-use") // the CRI unpacks run1's image
	r1 := build("run1")
	t.Setenv("SLIPWAY_KIND_UNPACK", "")
	ref1 := r1.Services["gateway"].Image
	deploy(ref1)

	// 2. After the CRI unpacked it on both nodes, every layer of the image
	// is still in both content stores ...
	layers1 := imageLayers(t, ref1)
	for _, node := range nodes {
		have := nodeContent(t, node)
		for _, l := range layers1 {
			if !have[l] {
				t.Errorf("%s: layer %s of %s is gone from the content store after a pod ran (discarded?)", node, short(l), ref1)
			}
		}
	}
	// ... so a one-line change sends only the new layer.
	edit(t, dir, "v2")
	r2 := build("run2")
	loads2 := nodeLoads(t, r2, "gateway")
	for _, node := range nodes {
		nl := loads2[node]
		t.Logf("change 1, %s: sent %d bytes, skipped %d", node, nl.BytesSent, nl.BytesSkipped)
		if nl.BytesSkipped == 0 {
			t.Errorf("%s: the changed gateway skipped no layer though its pods ran: layer-aware loading found nothing on a real node", node)
		}
	}
	deploy(r2.Services["gateway"].Image)

	// 3. The worker loses the image's layers (as if containerd had
	// discarded them): the next load must send them whole and still work.
	layers2 := imageLayers(t, r2.Services["gateway"].Image)
	shared := slices.DeleteFunc(slices.Clone(layers2), func(l string) bool { return !slices.Contains(layers1, l) })
	if len(shared) == 0 {
		t.Fatalf("gateway's two builds share no layer: %v / %v", layers1, layers2)
	}
	worker := cluster + "-worker"
	args := append([]string{"exec", worker, "ctr", "--namespace=k8s.io", "content", "rm"}, shared...)
	if out, err := command(ctx, repoRoot, nil, "docker", args...); err != nil {
		t.Fatalf("removing layers from %s: %v\n%s", worker, err, out)
	}
	have := nodeContent(t, worker)
	for _, l := range shared {
		if have[l] {
			t.Fatalf("%s still holds %s after ctr content rm", worker, short(l))
		}
	}
	edit(t, dir, "v3")
	r3 := build("run3")
	loads3 := nodeLoads(t, r3, "gateway")
	for _, node := range nodes {
		nl := loads3[node]
		t.Logf("change 2 (worker lost %d layers), %s: sent %d bytes, skipped %d", len(shared), node, nl.BytesSent, nl.BytesSkipped)
		if nl.Action != "loaded" {
			t.Errorf("%s: gateway %q, want loaded", node, nl.Action)
		}
	}
	// One stream feeds both nodes: a layer is left out only where every
	// node holds it. The worker lost the layers the two builds share, so
	// the stream must carry them; other layers both nodes hold (from other
	// tests' images on the same cluster) may still be skipped.
	if nl := loads3[worker]; nl.BytesSent == 0 {
		t.Errorf("%s lacked the shared layers but the load sent nothing (skipped %d bytes)", worker, nl.BytesSkipped)
	}
	have = nodeContent(t, worker)
	for _, l := range layers2 {
		if !slices.Contains(layers1, l) {
			continue
		}
		if !have[l] {
			t.Errorf("%s: layer %s was not sent back", worker, short(l))
		}
	}
	deploy(r3.Services["gateway"].Image)
	running := podImages(t, ns)
	for _, d := range []string{"gateway-control-plane", "gateway-worker"} {
		if want := r3.Services["gateway"].Image; !strings.HasSuffix(running[d], strings.TrimPrefix(want, "docker.io/")) {
			t.Errorf("%s runs %q, want %s", d, running[d], want)
		}
	}
}

// pinned is a Deployment of one gateway pod on node (tolerating the
// control plane's taint), with imagePullPolicy: Never.
func pinned(name, node, ref string) string {
	return deploymentOn(name, ref, entrypoints["gateway"], node)
}

// edit makes a one-line change to gateway (a new default port text).
func edit(t *testing.T, dir, v string) {
	t.Helper()
	main := filepath.Join(dir, "cmd", "gateway", "main.go")
	b, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), `"listen port"`, `"listen port `+v+`"`, 1)
	if edited == string(b) {
		edited = strings.Replace(string(b), `"listen port `, `"listen port `+v+` `, 1)
	}
	if edited == string(b) {
		t.Fatal("the edit changed nothing: cmd/gateway/main.go moved on; update the test")
	}
	if err := os.WriteFile(main, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
}

// imageLayers are the engine's diff IDs of ref: the digests `docker save`
// names its layers by, and so the node's content store too.
func imageLayers(t *testing.T, ref string) []string {
	t.Helper()
	out, err := command(context.Background(), repoRoot, nil, "docker", "image", "inspect", "-f", "{{json .RootFS.Layers}}", ref)
	if err != nil {
		t.Fatalf("docker image inspect %s: %v\n%s", ref, err, out)
	}
	var ls []string
	if err := json.Unmarshal([]byte(out), &ls); err != nil || len(ls) == 0 {
		t.Fatalf("layers of %s: %v (%s)", ref, err, out)
	}
	return ls
}

// nodeContent is the set of blob digests in the node's k8s.io content store.
func nodeContent(t *testing.T, node string) map[string]bool {
	t.Helper()
	out, err := command(context.Background(), repoRoot, nil, "docker", "exec", node, "ctr", "--namespace=k8s.io", "content", "ls", "-q")
	if err != nil {
		t.Fatalf("ctr content ls on %s: %v\n%s", node, err, out)
	}
	m := map[string]bool{}
	for _, d := range strings.Fields(out) {
		m[d] = true
	}
	return m
}

type nodeLoad struct {
	Action       string `json:"action"`
	BytesSent    int64  `json:"bytes_sent"`
	BytesSkipped int64  `json:"bytes_skipped"`
}

// nodeLoads reads the record's per-node load of service.
func nodeLoads(t *testing.T, r record, service string) map[string]nodeLoad {
	t.Helper()
	svc := r.Services[service]
	if svc.Kind == nil {
		t.Fatalf("%s has no kind record", service)
	}
	m := map[string]nodeLoad{}
	for node, raw := range svc.Kind.Loads {
		var nl nodeLoad
		if err := json.Unmarshal(raw, &nl); err != nil {
			t.Fatalf("reading %s's load on %s: %v (%s)", service, node, err, raw)
		}
		m[node] = nl
	}
	if len(m) == 0 {
		t.Fatalf("%s's record has no per-node loads: %+v", service, svc.Kind)
	}
	return m
}

func short(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

package realkind

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bases are the FROM images of the example fleet. BuildKit in a pod cannot
// see the host engine's images, so they go to the test registry, and the
// pods' buildkitd mirrors slipway.local there.
var bases = []string{"base/debian:bookworm", "base/golang:1.26-bookworm", "base/python:3-bookworm"}

// builderReplicas is how many BuildKit pods the builder runs.
const builderReplicas = 2

// TestBuildKitPods runs BuildKit as pods of the real cluster with buildx's
// kubernetes driver (an image built here from the pinned moby/buildkit,
// several replicas), builds the example fleet with `slipway build --builder`
// and --push to a registry on the kind network, and shows where the builds
// ran: buildx names the kubernetes driver in every service's build log, the
// pods' BuildKit history holds every image's build, and the registry holds
// every image.
func TestBuildKitPods(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	tmp := t.TempDir()

	// The BuildKit image, onto every node (the pods' pull policy is
	// IfNotPresent: nothing can be pulled).
	image := lastLine(t, mustRun(t, ctx, nil, filepath.Join(repoRoot, "scripts", "buildkit-image.sh")))
	dir := fleet(t)
	mustRun(t, ctx, nil, slipwayBin, "load", "--cluster", cluster, image)

	// The registry: a container on the kind network (the pods pull the
	// bases from its kind-network address), published on loopback (the
	// host's engine pushes there over plain HTTP without daemon config).
	regName := cluster + "-registry"
	port := freePort(t)
	t.Cleanup(func() {
		_, _ = command(context.Background(), repoRoot, nil, filepath.Join(repoRoot, "scripts", "kind-registry.sh"), "stop", regName)
	})
	inCluster := lastLine(t, mustRun(t, ctx, nil, filepath.Join(repoRoot, "scripts", "kind-registry.sh"), "start", regName, strconv.Itoa(port)))
	host := fmt.Sprintf("localhost:%d", port)
	for _, b := range bases {
		ref := host + "/" + b
		mustRun(t, ctx, nil, "docker", "tag", "slipway.local/"+b, ref)
		t.Cleanup(func() { _, _ = command(context.Background(), repoRoot, nil, "docker", "rmi", ref) })
		mustRun(t, ctx, nil, "docker", "push", "-q", ref)
	}

	// buildx talks to the API server with kind's kubeconfig (published on
	// the host's loopback); its builder list is the test's own.
	kubeconfig := filepath.Join(tmp, "kubeconfig")
	kc := mustRun(t, ctx, nil, "kind", "get", "kubeconfig", "--name", cluster)
	if err := os.WriteFile(kubeconfig, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"KUBECONFIG=" + kubeconfig, "BUILDX_CONFIG=" + filepath.Join(tmp, "buildx")}

	ns := "slipway-buildkit"
	if out, err := kubectl(ctx, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+ns+"\n", "apply", "-f", "-"); err != nil {
		t.Fatalf("creating namespace %s: %v\n%s", ns, err, out)
	}
	cfg := filepath.Join(tmp, "buildkitd.toml")
	if err := os.WriteFile(cfg, []byte(buildkitdConfig(inCluster, host)), 0o644); err != nil {
		t.Fatal(err)
	}
	builder := "slipway-pods"
	t.Cleanup(func() {
		// rm deletes the Deployment and its ConfigMap.
		if out, err := command(context.Background(), repoRoot, env, "docker", "buildx", "rm", builder); err != nil {
			t.Logf("docker buildx rm %s: %v\n%s", builder, err, out)
		}
	})
	t0 := time.Now()
	mustRun(t, ctx, env, "docker", "buildx", "create", "--name", builder, "--driver", "kubernetes",
		"--driver-opt", "image="+image,
		"--driver-opt", "namespace="+ns,
		"--driver-opt", "replicas="+strconv.Itoa(builderReplicas),
		// sticky (the default) hashes the context path: every service of a
		// one-context repo would land on the same pod.
		"--driver-opt", "loadbalance=random",
		"--driver-opt", "requests.cpu=250m",
		"--driver-opt", "requests.memory=256Mi",
		"--driver-opt", "limits.memory=2Gi",
		"--driver-opt", "timeout=10m",
		"--buildkitd-config", cfg, "--bootstrap")
	t.Logf("builder %s: %d BuildKit pods Ready in %s", builder, builderReplicas, time.Since(t0).Round(time.Second))
	pods := builderPods(t, ctx, ns)
	if len(pods) != builderReplicas {
		t.Fatalf("want %d running BuildKit pods in %s, have %v", builderReplicas, ns, pods)
	}
	before := map[string]podUsage{}
	for _, p := range pods {
		before[p] = usage(t, ctx, ns, p)
	}

	// The build: the kubernetes driver is buildx's, so slipway builds
	// through the CLI with --builder; single-platform images come back with
	// --load and are pushed by the engine. --cache-to inline: slipway's
	// default export with --builder --push is REGISTRY/IMAGE:buildcache,
	// which the pods would push to localhost:PORT, their own loopback; a
	// team registry has one name for everyone and needs no such flag.
	meta := filepath.Join(tmp, "meta.json")
	state := filepath.Join(tmp, "state")
	slipEnv := append([]string{"USER=bkpods", "KIND_CLUSTER_NAME=" + cluster, "XDG_STATE_HOME=" + state,
		"SLIPWAY_STATE_DIR=" + filepath.Join(state, "slipway")}, env...)
	t1 := time.Now()
	out := mustRunIn(t, ctx, dir, slipEnv, slipwayBin, "build", "--builder", builder, "--push", "--registry", host,
		"--cache-to", "type=inline", "--progress", "plain", "--metadata-file", meta)
	took := time.Since(t1)
	t.Logf("slipway's summary:\n%s", tail(out, 11))
	rec := readRecord(t, meta)
	for _, s := range rec.Services {
		// --load put every image into the engine too.
		t.Cleanup(func() { _, _ = command(context.Background(), repoRoot, nil, "docker", "rmi", s.Image) })
	}
	if len(rec.Services) != len(entrypoints) {
		t.Fatalf("want %d services in the metadata, have %d\n%s", len(entrypoints), len(rec.Services), tail(out, 60))
	}

	// 1. buildx says, in every service's log, which driver built it.
	driverLine := regexp.MustCompile(`building with "` + regexp.QuoteMeta(builder) + `" instance using kubernetes driver`)
	if n := len(driverLine.FindAllString(out, -1)); n < len(entrypoints) {
		t.Fatalf("want %d build logs naming the kubernetes driver of %s, have %d\n%s", len(entrypoints), builder, n, tail(out, 80))
	}

	// 2. every image is in the registry, under the tag slipway gave it.
	for svc, s := range rec.Services {
		if !strings.HasPrefix(s.Image, host+"/") {
			t.Errorf("%s: image %s is not under %s", svc, s.Image, host)
			continue
		}
		repo, tag, _ := strings.Cut(strings.TrimPrefix(s.Image, host+"/"), ":")
		if code := manifestStatus(ctx, host, repo, tag); code != http.StatusOK {
			t.Errorf("%s: %s/v2/%s/manifests/%s answered %d", svc, host, repo, tag, code)
		}
	}

	// 3. each image's build is in some pod's BuildKit history (buildx
	// records the image names as the exporter's attributes).
	ran := map[string][]string{} // pod -> services
	for _, p := range pods {
		h, err := kubectl(ctx, "", "-n", ns, "exec", p, "--", "buildctl", "debug", "histories", "--format", "{{json .}}")
		if err != nil {
			t.Fatalf("buildctl debug histories in %s: %v\n%s", p, err, h)
		}
		for svc, s := range rec.Services {
			if strings.Contains(h, s.Image) {
				ran[p] = append(ran[p], svc)
			}
		}
	}
	var where []string
	seen := map[string]bool{}
	for _, p := range pods {
		slices.Sort(ran[p])
		for _, svc := range ran[p] {
			seen[svc] = true
		}
		after := usage(t, ctx, ns, p)
		where = append(where, fmt.Sprintf("%s: %d builds %v, CPU %.1fs, memory peak %d MiB (now %d MiB)",
			p, len(ran[p]), ran[p], (after.cpu-before[p].cpu).Seconds(), after.peak>>20, after.now>>20))
	}
	t.Logf("fleet of %d built on %d BuildKit pods in %s:\n  %s", len(rec.Services), len(pods), took.Round(time.Second), strings.Join(where, "\n  "))
	for svc := range rec.Services {
		if !seen[svc] {
			t.Errorf("%s (%s) is in no BuildKit pod's build history", svc, rec.Services[svc].Image)
		}
	}
}

// buildkitdConfig is the pods' buildkitd.toml: the test registry over plain
// HTTP, and it as the mirror of slipway.local (the base images' registry
// name, which resolves nowhere) and of hostName, the host's name for it
// (localhost:PORT, which in a pod is the pod), so the default cache import
// (hostName/IMAGE:buildcache) is looked up where it is. Mirrors serve pulls
// only: nothing can be pushed from a pod under the host's name.
func buildkitdConfig(registry, hostName string) string {
	return fmt.Sprintf(`# written by test/realkind (TestBuildKitPods)
[worker.oci]
  enabled = true
  gc = true
  maxUsedSpace = "4GB"

[worker.containerd]
  enabled = false

[registry."slipway.local"]
  mirrors = ["%[1]s"]

[registry."%[2]s"]
  mirrors = ["%[1]s"]

[registry."%[1]s"]
  http = true
  insecure = true
`, registry, hostName)
}

// builderPods lists the running pods of namespace ns (the builder's alone).
func builderPods(t *testing.T, ctx context.Context, ns string) []string {
	t.Helper()
	out, err := kubectl(ctx, "", "-n", ns, "get", "pods", "--field-selector=status.phase=Running",
		"-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}")
	if err != nil {
		t.Fatalf("listing pods in %s: %v\n%s", ns, err, out)
	}
	return strings.Fields(out)
}

// podUsage is what a pod's buildkitd container has used, from its cgroup
// (v1 here: the runtime mounts the container's own cgroup directories).
type podUsage struct {
	cpu       time.Duration
	peak, now int64
}

func usage(t *testing.T, ctx context.Context, ns, pod string) podUsage {
	t.Helper()
	const script = `cat /sys/fs/cgroup/cpuacct/cpuacct.usage /sys/fs/cgroup/memory/memory.max_usage_in_bytes /sys/fs/cgroup/memory/memory.usage_in_bytes 2>/dev/null ||
{ awk '$1=="usage_usec"{print $2*1000}' /sys/fs/cgroup/cpu.stat; cat /sys/fs/cgroup/memory.peak /sys/fs/cgroup/memory.current; }`
	out, err := kubectl(ctx, "", "-n", ns, "exec", pod, "--", "/bin/sh", "-c", script)
	if err != nil {
		t.Fatalf("reading the cgroup of %s: %v\n%s", pod, err, out)
	}
	f := strings.Fields(out)
	if len(f) != 3 {
		t.Fatalf("reading the cgroup of %s: want 3 numbers, have %q", pod, out)
	}
	var n [3]int64
	for i := range f {
		if n[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
			t.Fatalf("reading the cgroup of %s: %v", pod, err)
		}
	}
	return podUsage{cpu: time.Duration(n[0]), peak: n[1], now: n[2]}
}

func manifestStatus(ctx context.Context, host, repo, tag string) int {
	req, _ := http.NewRequestWithContext(ctx, http.MethodHead, "http://"+host+"/v2/"+repo+"/manifests/"+tag, nil)
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// freePort is a loopback TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func mustRun(t *testing.T, ctx context.Context, env []string, name string, args ...string) string {
	t.Helper()
	return mustRunIn(t, ctx, repoRoot, env, name, args...)
}

func mustRunIn(t *testing.T, ctx context.Context, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := command(ctx, dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, tail(out, 80))
	}
	return out
}

func lastLine(t *testing.T, s string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if l == "" {
		t.Fatal("no output")
	}
	return l
}

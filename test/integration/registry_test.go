package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	registryPort = "5051"
	registry     = "localhost:" + registryPort
	buildkitPort = "1251"
	remote       = "slipway-remote-" + buildkitPort
)

// startRegistry runs a real registry (distribution) on loopback for the test.
func startRegistry(t *testing.T) {
	t.Helper()
	needEngine(t)
	script := filepath.Join(repoRoot(), "scripts", "registry.sh")
	if out, err := exec.Command(script, "start", registryPort).CombinedOutput(); err != nil {
		t.Fatalf("starting the registry: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(script, "stop", registryPort).Run() })
}

// startBuildkit runs a real buildkitd registered as a buildx remote builder,
// with the base image pushed to the registry, where it can see it.
func startBuildkit(t *testing.T) {
	t.Helper()
	script := filepath.Join(repoRoot(), "scripts", "buildkit.sh")
	cmd := exec.Command(script, "start", buildkitPort)
	cmd.Env = append(os.Environ(), "SLIPWAY_BUILDKIT_REGISTRIES="+registry+" 127.0.0.1:"+registryPort)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("starting buildkitd: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(script, "stop", buildkitPort).Run() })
	pushBase(t)
}

const registryBase = registry + "/base/debian:bookworm"

func pushBase(t *testing.T) {
	t.Helper()
	for _, args := range [][]string{{"tag", BaseImage, registryBase}, {"push", registryBase}} {
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
	}
}

func TestPushKeepsCredentialsOut(t *testing.T) {
	startRegistry(t)
	r := newRepo(t, map[string]string{"alpha": okWith("alpha"), "beta": okWith("beta")}, "")
	// A credential in the engine's own login store.
	cfgDir := t.TempDir()
	secret := "s3cr3t-pw-" + r.Project
	auth := base64.StdEncoding.EncodeToString([]byte("slipuser:" + secret))
	os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"auths":{"`+registry+`":{"auth":"`+auth+`"}}}`), 0o600)
	env := []string{"DOCKER_CONFIG=" + cfgDir}

	res := r.slipway(context.Background(), env, "build", "--push", "--registry", registry, "--progress", "plain", "--metadata-format", "bake", "--metadata-file", filepath.Join(r.State, "bake.json"))
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	res2 := r.slipway(context.Background(), env, "build", "--push", "--registry", registry, "--progress", "plain", "--output", "json")
	if res2.Code != 0 {
		t.Fatalf("exit %d\n%s", res2.Code, res2.Stderr)
	}
	for _, svc := range []string{"alpha", "beta"} {
		img := inspect(t, registry+"/"+r.Project+"-"+svc+":"+res2.Meta.Services[svc].Tag)
		for k, v := range img.Labels {
			if strings.Contains(v, secret) {
				t.Errorf("label %s carries the credential", k)
			}
		}
	}
	for s, m := range res2.Meta.Services {
		if !strings.HasPrefix(m.Image, registry+"/") || !strings.HasPrefix(m.Pushed, "sha256:") {
			t.Fatalf("%s: %+v", s, m)
		}
		// Pull it back by digest, from the registry alone.
		byDigest := strings.SplitN(m.Image, ":"+m.Tag, 2)[0] + "@" + m.Pushed
		exec.Command("docker", "rmi", m.Image).Run()
		if out, err := exec.Command("docker", "pull", byDigest).CombinedOutput(); err != nil {
			t.Fatalf("%s: pull by digest: %v\n%s", s, err, out)
		}
		if out, err := exec.Command("docker", "run", "--rm", byDigest).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != s {
			t.Errorf("%s: pulled image printed %q (%v)", s, out, err)
		}
		exec.Command("docker", "rmi", byDigest).Run()
	}
	// The credential appears in nothing slipway printed or wrote.
	var everything strings.Builder
	everything.WriteString(res.Stdout + res.Stderr + res2.Stdout + res2.Stderr)
	filepath.Walk(r.State, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			everything.Write(b)
		}
		return nil
	})
	for _, needle := range []string{secret, auth, "slipuser"} {
		if strings.Contains(everything.String(), needle) {
			t.Errorf("credential %q leaked into slipway's output or files", needle)
		}
	}
}

func TestPushErrors(t *testing.T) {
	r := newRepo(t, map[string]string{"alpha": okWith("alpha"), "beta": "FROM " + BaseImage + "\nRUN sleep 1\n"}, "")
	res := r.slipway(context.Background(), nil, "build", "--push", "--registry", "localhost:5059", "--progress", "quiet")
	if res.Code != 1 || !strings.Contains(res.Stderr, "push localhost:5059/") {
		t.Fatalf("registry down: exit %d\n%s", res.Code, res.Stderr)
	}
	res = r.slipway(context.Background(), nil, "build", "--builder", "no-such-builder", "--progress", "quiet")
	if res.Code != 2 || !strings.Contains(res.Stderr, "no-such-builder") {
		t.Fatalf("unknown builder: exit %d\n%s", res.Code, res.Stderr)
	}
	res = r.slipway(context.Background(), nil, "build", "--platform", "linux/s390x", "--progress", "quiet")
	if res.Code != 2 || !strings.Contains(res.Stderr, "for linux/s390x: RUN at") {
		t.Fatalf("unsupported platform: exit %d\n%s", res.Code, res.Stderr)
	}
	res = r.slipway(context.Background(), nil, "build", "--platform", "linux/amd64,linux/386", "--progress", "quiet")
	if res.Code != 2 || !strings.Contains(res.Stderr, "needs --push") {
		t.Fatalf("multi-platform without push: exit %d\n%s", res.Code, res.Stderr)
	}
}

func TestRemoteBuilderMultiPlatformAndKind(t *testing.T) {
	startRegistry(t)
	startBuildkit(t)
	cluster, nodes := newCluster(t)
	cross := "FROM --platform=$BUILDPLATFORM " + registryBase + " AS build\nARG TARGETARCH\nRUN echo built-for-$TARGETARCH > /arch\n" +
		"FROM scratch\nCOPY --from=build /arch /arch\n"
	runnable := "FROM " + registryBase + "\nRUN echo remote-built > /msg\nCMD [\"cat\", \"/msg\"]\n"
	r := newRepo(t, map[string]string{"multi": cross, "runner": runnable}, "")

	res := r.slipway(context.Background(), nil, "build", "multi", "--builder", remote, "--platform", "linux/amd64,linux/arm64", "--push", "--registry", registry, "--progress", "plain")
	if res.Code != 0 {
		t.Fatalf("multi-platform: exit %d\n%s", res.Code, res.Stderr)
	}
	m := res.Meta.Services["multi"]
	name := strings.TrimPrefix(strings.SplitN(m.Image, ":"+m.Tag, 2)[0], registry+"/")
	plats := manifestPlatforms(t, name, m.Tag)
	for _, want := range []string{"linux/amd64", "linux/arm64"} {
		if !strings.Contains(plats, want) {
			t.Errorf("manifest list has %s, lacks %s", plats, want)
		}
	}

	// Built on the remote daemon, then loaded into the nodes and run there.
	res = r.slipway(context.Background(), nil, "build", "runner", "--builder", remote, "--push", "--registry", registry, "--kind", "--cluster="+cluster, "--progress", "plain")
	if res.Code != 0 {
		t.Fatalf("remote + kind: exit %d\n%s", res.Code, res.Stderr)
	}
	ref := res.Meta.Services["runner"].Image
	for _, n := range nodes {
		if out := nodeExec(t, n, "ctr", "-n", "k8s.io", "run", "--rm", ref, "remote-"+n); strings.TrimSpace(out) != "remote-built" {
			t.Errorf("%s printed %q", n, out)
		}
	}
}

// manifestPlatforms reads the registry's manifest list for name:tag.
func manifestPlatforms(t *testing.T, name, tag string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%s/v2/%s/manifests/%s", registryPort, name, tag), nil)
	req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var idx struct {
		Manifests []struct {
			Platform struct{ OS, Architecture string } `json:"platform"`
		} `json:"manifests"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil {
		t.Fatalf("reading manifest list: %v", err)
	}
	var out []string
	for _, m := range idx.Manifests {
		out = append(out, m.Platform.OS+"/"+m.Platform.Architecture)
	}
	return strings.Join(out, ",")
}

func TestShardSplitsServices(t *testing.T) {
	r := newRepo(t, map[string]string{"a": ok, "b": ok, "c": okWith("c"), "d": okWith("d")}, "")
	cfg := filepath.Join(r.Dir, "slipway.yaml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(b), "  b:\n", "  b:\n    depends_on: [a]\n", 1)), 0o644)
	seen := map[string]int{}
	for _, sh := range []string{"1/2", "2/2"} {
		res := r.slipway(context.Background(), nil, "build", "--shard", sh, "--progress", "quiet")
		if res.Code != 0 {
			t.Fatalf("%s: %s", sh, res.Stderr)
		}
		for s := range res.Meta.Services {
			seen[s]++
		}
		if _, hasB := res.Meta.Services["b"]; hasB {
			if _, hasA := res.Meta.Services["a"]; !hasA {
				t.Errorf("shard %s has b without its dependency a", sh)
			}
		}
	}
	for _, s := range []string{"a", "b", "c", "d"} {
		if seen[s] != 1 {
			t.Errorf("%s built by %d shards", s, seen[s])
		}
	}
	if res := r.slipway(context.Background(), nil, "build", "--shard", "3/2"); res.Code != 2 {
		t.Errorf("bad shard: exit %d", res.Code)
	}
}

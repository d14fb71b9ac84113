package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/run"
)

// Reuse across machines, with real components: the loopback registry, the
// machine's dockerd as the first machine, and a second dockerd (its own
// data root, exec root, socket and bridge: scripts/lib/dockerd2.sh) as a
// colleague's laptop or a fresh CI runner that has never built anything.

// secondEngine starts a second dockerd for the test, with the base image
// copied in (nothing can be pulled here), and returns its DOCKER_HOST. It
// is stopped and its folder removed when the test ends.
func secondEngine(t *testing.T) string {
	t.Helper()
	script := filepath.Join(repoRoot(), "scripts", "lib", "dockerd2.sh")
	// Short (its containerd socket must fit a unix socket path), and a
	// bridge of its own so that the fault tests' second dockerd is left alone.
	dir := fmt.Sprintf("/tmp/swr2-%d", time.Now().UnixNano()%1000000)
	env := append(os.Environ(), "SLIPWAY_DOCKERD2_BRIDGE=slipwayr2", "SLIPWAY_DOCKERD2_CIDR=10.98.0.1/24")
	t.Cleanup(func() {
		cmd := exec.Command(script, "stop", dir)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("stopping the second dockerd: %v\n%s", err, out)
		}
	})
	cmd := exec.Command(script, "start", dir)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
		t.Fatalf("starting the second dockerd: %v\n%s\n%s", err, out, lastN(string(b), 30))
	}
	host := strings.TrimSpace(string(out[bytes.LastIndexByte(bytes.TrimSpace(out), '\n')+1:]))
	save := exec.Command("docker", "save", BaseImage)
	load := exec.Command("docker", "load", "-q")
	load.Env = append(os.Environ(), "DOCKER_HOST="+host)
	pipe, err := save.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	load.Stdin = pipe
	var se, le bytes.Buffer
	save.Stderr, load.Stderr = &se, &le
	if err := save.Start(); err != nil {
		t.Fatal(err)
	}
	lerr := load.Run()
	if err := save.Wait(); err != nil || lerr != nil {
		t.Fatalf("copying %s into the second dockerd: %v %v\n%s%s", BaseImage, err, lerr, se.String(), le.String())
	}
	return host
}

func lastN(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// registryTags lists repo's tags in the loopback registry.
func registryTags(t *testing.T, repo string) []string {
	t.Helper()
	resp, err := http.Get("http://" + registry + "/v2/" + repo + "/tags/list")
	if err != nil {
		t.Fatalf("listing %s's tags: %v", repo, err)
	}
	defer resp.Body.Close()
	var body struct{ Tags []string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("listing %s's tags: %v", repo, err)
	}
	return body.Tags
}

func statuses(m run.Record) map[string]run.Status {
	out := map[string]run.Status{}
	for s, svc := range m.Services {
		out[s] = svc.Status
	}
	return out
}

func TestRegistryReuseAcrossEngines(t *testing.T) {
	startRegistry(t)
	ctx := context.Background()
	// Every service's first step is unique to the test, so a cache hit on
	// the second engine can only come from the registry.
	nonce := fmt.Sprint(time.Now().UnixNano())
	df := func(s string) string {
		return "FROM " + BaseImage + "\nRUN echo " + s + "-" + nonce + " > /stamp\nCOPY " + s + ".txt /" + s + ".txt\nCMD [\"cat\", \"/" + s + ".txt\"]\n"
	}
	r := newRepo(t, map[string]string{"alpha": df("alpha"), "beta": df("beta"), "gamma": df("gamma")}, "")
	for _, s := range []string{"alpha", "beta", "gamma"} {
		os.WriteFile(filepath.Join(r.Dir, s+".txt"), []byte(s+" v1\n"), 0o644)
	}
	regArgs := []string{"--registry", registry, "--progress", "plain"}

	// Machine one builds and pushes: each image also goes under its
	// input-digest tag, and (the default inline cache) as buildcache.
	res := r.slipway(ctx, nil, append([]string{"build", "--push"}, regArgs...)...)
	if res.Code != 0 {
		t.Fatalf("first engine: exit %d\n%s", res.Code, res.Stderr)
	}
	inputs := map[string]string{}
	for _, s := range []string{"alpha", "beta", "gamma"} {
		m := res.Meta.Services[s]
		if m.Status != run.Built {
			t.Fatalf("%s: %s on the first engine", s, m.Status)
		}
		inputs[s] = inspect(t, m.Image).Labels["dev.slipway.inputs"]
		tags := registryTags(t, r.Project+"-"+s)
		want := "inputs-" + strings.TrimPrefix(inputs[s], "sha256:")
		if !slices.Contains(tags, want) || !slices.Contains(tags, "buildcache") {
			t.Fatalf("%s: registry tags %v, want %s and buildcache", s, tags, want)
		}
	}

	// Machine two has never built anything; beta changed since.
	host := secondEngine(t)
	os.WriteFile(filepath.Join(r.Dir, "beta.txt"), []byte("beta v2\n"), 0o644)
	env2 := []string{"DOCKER_HOST=" + host, "SLIPWAY_STATE_DIR=" + t.TempDir()}
	res2 := r.slipway(ctx, env2, append([]string{"build"}, regArgs...)...)
	if res2.Code != 0 {
		t.Fatalf("second engine: exit %d\n%s", res2.Code, res2.Stderr)
	}
	got := statuses(res2.Meta)
	if got["alpha"] != run.ReusedRegistry || got["gamma"] != run.ReusedRegistry || got["beta"] != run.Built {
		t.Fatalf("second engine: statuses %v, want alpha and gamma %q, beta built\n%s", got, run.ReusedRegistry, res2.Stderr)
	}
	for _, s := range []string{"alpha", "gamma"} {
		// The engine holds the very image the first machine built, under
		// this run's tag, and it runs.
		out, err := exec.Command("docker", "-H", host, "run", "--rm", res2.Meta.Services[s].Image).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != s+" v1" {
			t.Errorf("%s on the second engine printed %q (%v)", s, out, err)
		}
		if id := res2.Meta.Services[s].ID; id != res.Meta.Services[s].ID {
			t.Errorf("%s: second engine has %s, the first built %s", s, id, res.Meta.Services[s].ID)
		}
	}
	// beta's unchanged first step came from the registry cache.
	log, err := os.ReadFile(res2.Meta.Services["beta"].Log)
	if err != nil {
		t.Fatal(err)
	}
	if !regexpCachedRun(string(log)) {
		t.Errorf("beta's RUN step was not a cache hit from the registry; its log:\n%s", log)
	}

	// Somebody pushes gamma's image under alpha's digest tag: same tag,
	// other labels. A machine without alpha must build it, not trust it.
	alphaTag := registry + "/" + r.Project + "-alpha:inputs-" + strings.TrimPrefix(inputs["alpha"], "sha256:")
	for _, args := range [][]string{{"tag", res.Meta.Services["gamma"].Image, alphaTag}, {"push", alphaTag}, {"rmi", alphaTag}} {
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
	}
	// Machine two forgets what it has (a fresh runner again).
	out, _ := exec.Command("docker", "-H", host, "image", "ls", "-q", "--filter", "label=dev.slipway.project="+r.Project).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		if out, err := exec.Command("docker", append([]string{"-H", host, "image", "rm", "-f"}, ids...)...).CombinedOutput(); err != nil {
			t.Fatalf("emptying the second engine: %v\n%s", err, out)
		}
	}
	os.WriteFile(filepath.Join(r.Dir, "beta.txt"), []byte("beta v1\n"), 0o644)
	env3 := []string{"DOCKER_HOST=" + host, "SLIPWAY_STATE_DIR=" + t.TempDir()}
	res3 := r.slipway(ctx, env3, append([]string{"build"}, regArgs...)...)
	if res3.Code != 0 {
		t.Fatalf("after tampering: exit %d\n%s", res3.Code, res3.Stderr)
	}
	got = statuses(res3.Meta)
	if got["alpha"] != run.Built || got["beta"] != run.ReusedRegistry || got["gamma"] != run.ReusedRegistry {
		t.Fatalf("after tampering: statuses %v, want alpha built, beta and gamma %q\n%s", got, run.ReusedRegistry, res3.Stderr)
	}
	if !strings.Contains(res3.Stderr, "not trusted") {
		t.Errorf("the output does not say why alpha's digest tag was not trusted:\n%s", res3.Stderr)
	}
	out, err = exec.Command("docker", "-H", host, "run", "--rm", res3.Meta.Services["alpha"].Image).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "alpha v1" {
		t.Errorf("alpha rebuilt on the second engine printed %q (%v)", out, err)
	}
}

// regexpCachedRun reports whether a plain BuildKit log shows the RUN step
// as CACHED: "#N [2/3] RUN ..." followed by "#N CACHED".
func regexpCachedRun(log string) bool {
	step := ""
	for _, l := range strings.Split(log, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || !strings.HasPrefix(f[0], "#") {
			continue
		}
		if strings.Contains(l, "] RUN ") {
			step = f[0]
		}
		if step != "" && f[0] == step && f[1] == "CACHED" {
			return true
		}
	}
	return false
}

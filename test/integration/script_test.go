package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/run"
)

// scriptPath is the drop-in wrapper for the old per-service build script.
func scriptPath() string { return filepath.Join(repoRoot(), "scripts", "build-service-image.sh") }

// scriptEnvUnset are the variables the script reads: the tests set them
// explicitly, never inherit them.
var scriptEnvUnset = []string{"IMAGE_TAG", "KIND_CLUSTER_NAME", "MULTI_ARCH", "PLATFORMS", "SLIPWAY", "KIND_EXPERIMENTAL_PROVIDER"}

// script runs scripts/build-service-image.sh in dir with the slipway under
// test, state kept in state, and env added.
func script(t *testing.T, dir, state string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(scriptPath(), args...)
	cmd.Dir = dir
	cmd.Env = scriptEnv(state, env)
	return runCmd(t, cmd)
}

func scriptEnv(state string, env []string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !slices.Contains(scriptEnvUnset, strings.SplitN(kv, "=", 2)[0]) {
			out = append(out, kv)
		}
	}
	out = append(out, "SLIPWAY="+bin, "SLIPWAY_STATE_DIR="+state)
	return append(out, env...)
}

// (r *repo) script runs the script in the repo.
func (r *repo) script(env []string, args ...string) result {
	r.t.Helper()
	return script(r.t, r.Dir, r.State, env, args...)
}

// envFile reads .last-image-tag-SERVICE.env, failing unless it has exactly
// the IMAGE_TAG, IMAGE and SERVICE lines, in that order.
func envFile(t *testing.T, dir, svc string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ".last-image-tag-"+svc+".env"))
	if err != nil {
		t.Fatalf("env file of %s: %v", svc, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	m := map[string]string{}
	var keys []string
	for _, l := range lines {
		k, v, ok := strings.Cut(l, "=")
		if !ok || v == "" {
			t.Fatalf("env file of %s: bad line %q in\n%s", svc, l, b)
		}
		keys = append(keys, k)
		m[k] = v
	}
	if !slices.Equal(keys, []string{"IMAGE_TAG", "IMAGE", "SERVICE"}) {
		t.Fatalf("env file of %s: keys %v, want IMAGE_TAG, IMAGE, SERVICE:\n%s", svc, keys, b)
	}
	if m["SERVICE"] != svc || !strings.HasSuffix(m["IMAGE"], ":"+m["IMAGE_TAG"]) {
		t.Fatalf("env file of %s is inconsistent:\n%s", svc, b)
	}
	return m
}

// wantImage checks the env file's image: the repo's name for svc, in the
// engine, with the wanted tag (when want is not empty); it returns the ref.
func (r *repo) wantImage(svc, want string) string {
	r.t.Helper()
	m := envFile(r.t, r.Dir, svc)
	if want != "" && m["IMAGE_TAG"] != want {
		r.t.Errorf("%s: tag %q, want %q", svc, m["IMAGE_TAG"], want)
	}
	if prefix := "localhost/" + r.Project + "-" + svc + ":"; !strings.HasPrefix(m["IMAGE"], prefix) {
		r.t.Errorf("%s: image %q, want %s...", svc, m["IMAGE"], prefix)
	}
	return m["IMAGE"]
}

// runs reads every run record slipway kept in the repo's state folder.
func (r *repo) runs() []run.Record {
	r.t.Helper()
	ents, _ := os.ReadDir(filepath.Join(r.State, "runs"))
	var recs []run.Record
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(r.State, "runs", e.Name(), "run.json"))
		if err != nil {
			r.t.Fatal(err)
		}
		var rec run.Record
		if err := json.Unmarshal(b, &rec); err != nil {
			r.t.Fatalf("run record %s: %v", e.Name(), err)
		}
		recs = append(recs, rec)
	}
	return recs
}

func emptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("files left in %s: %v", dir, names)
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir, "-c", "user.email=t@t", "-c", "user.name=t"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// The old script's tag was ${SERVICE}-$(whoami)-$(git rev-parse --short
// HEAD || echo unknown)-$(date +%s); the new one keeps that shape, with the
// short hash always 7 hex digits and "nogit" outside a repository.
func TestScriptTags(t *testing.T) {
	r := newRepo(t, map[string]string{"alpha": okWith("alpha")}, "")
	tmp := t.TempDir()
	env := []string{"USER=Alice", "TMPDIR=" + tmp}

	// Outside a repository.
	before := time.Now().Unix()
	res := r.script(env, "alpha")
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	after := time.Now().Unix()
	tag := envFile(t, r.Dir, "alpha")["IMAGE_TAG"]
	m := regexp.MustCompile(`^alpha-alice-nogit-(\d{10})$`).FindStringSubmatch(tag)
	if m == nil {
		t.Fatalf("tag outside git: %q", tag)
	}
	if ts := atoi(t, m[1]); ts < before || ts > after {
		t.Errorf("tag time %d not within %d..%d", ts, before, after)
	}
	if !engineHas(r.wantImage("alpha", "")) {
		t.Error("the env file's image is not in the engine")
	}
	emptyDir(t, tmp)

	// In a clean repository: the old documented shape, exactly.
	os.Remove(filepath.Join(r.Dir, ".last-image-tag-alpha.env"))
	git(t, r.Dir, "init", "-q")
	git(t, r.Dir, "add", "-A")
	git(t, r.Dir, "commit", "-q", "-m", "x")
	short := git(t, r.Dir, "rev-parse", "--short=7", "HEAD")
	oldShape := regexp.MustCompile(`^([a-z0-9]+)-([a-z0-9_.-]+)-([0-9a-f]{7,}|unknown)-(\d+)$`)
	before = time.Now().Unix()
	res = r.script(env, "alpha")
	after = time.Now().Unix()
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	tag = envFile(t, r.Dir, "alpha")["IMAGE_TAG"]
	old := oldShape.FindStringSubmatch(tag)
	if old == nil || old[1] != "alpha" || old[2] != "alice" || old[3] != short || len(old[4]) != 10 {
		t.Fatalf("tag in git: %q, want alpha-alice-%s-<unix>", tag, short)
	}
	if ts := atoi(t, old[4]); ts < before || ts > after {
		t.Errorf("tag time %d not within %d..%d", ts, before, after)
	}

	// IMAGE_TAG, then --tag over IMAGE_TAG, in both spellings.
	res = r.script(append(env, "IMAGE_TAG=from-env"), "alpha")
	if res.Code != 0 {
		t.Fatalf("IMAGE_TAG: exit %d\n%s", res.Code, res.Stderr)
	}
	if !engineHas(r.wantImage("alpha", "from-env")) {
		t.Error("IMAGE_TAG image not in the engine")
	}
	res = r.script(append(env, "IMAGE_TAG=from-env"), "alpha", "--tag", "from-flag")
	if res.Code != 0 {
		t.Fatalf("--tag: exit %d\n%s", res.Code, res.Stderr)
	}
	r.wantImage("alpha", "from-flag")
	res = r.script(append(env, "IMAGE_TAG=from-env"), "--tag=from-flag2", "alpha")
	if res.Code != 0 {
		t.Fatalf("--tag=: exit %d\n%s", res.Code, res.Stderr)
	}
	if !engineHas(r.wantImage("alpha", "from-flag2")) {
		t.Error("--tag image not in the engine")
	}
	emptyDir(t, tmp)
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestScriptExitCodes(t *testing.T) {
	r := newRepo(t, map[string]string{"alpha": okWith("alpha"), "broken": "FROM " + BaseImage + "\nRUN sleep 4 && exit 3\n"}, "")
	tmp := t.TempDir()
	env := []string{"TMPDIR=" + tmp}
	cases := []struct {
		args   []string
		env    []string
		code   int
		stderr string // a part of the one-line message; "" for none
	}{
		{args: []string{"nosuchservice"}, code: 2, stderr: `"nosuchservice"`},
		{args: []string{"alpha", "--tag", "x/y:z"}, code: 2, stderr: `invalid tag "x/y:z"`},
		{args: []string{"alpha"}, env: []string{"IMAGE_TAG=x/y:z"}, code: 2, stderr: `IMAGE_TAG`},
		{args: []string{"alpha", "--bogus"}, code: 2, stderr: "--bogus"},
		{args: []string{"alpha", "--tag"}, code: 2, stderr: "--tag"},
		{args: []string{"alpha", "--cluster"}, code: 2, stderr: "--cluster"},
		{args: nil, code: 2, stderr: "SERVICE"},
		{args: []string{"alpha", "--kind", "--cluster", "no-such-cluster"}, code: 2, stderr: `no Kind cluster "no-such-cluster"`},
		{args: []string{"alpha", "--cleanup"}, code: 2, stderr: "--kind"},
		{args: []string{"broken"}, code: 1, stderr: "broken"},
	}
	for _, c := range cases {
		res := r.script(append(env, c.env...), c.args...)
		if res.Code != c.code || !strings.Contains(res.Stderr, c.stderr) {
			t.Errorf("%v: exit %d, want %d with %q; stderr:\n%s", c.args, res.Code, c.code, c.stderr, res.Stderr)
		}
		if c.code == 2 {
			if n := strings.Count(strings.TrimSpace(res.Stderr), "\n"); n > 1 {
				t.Errorf("%v: %d lines of error:\n%s", c.args, n+1, res.Stderr)
			}
		}
		emptyDir(t, tmp)
		for _, svc := range []string{"alpha", "broken"} {
			if _, err := os.Stat(filepath.Join(r.Dir, ".last-image-tag-"+svc+".env")); err == nil {
				t.Fatalf("%v: wrote an env file for %s although it failed", c.args, svc)
			}
		}
	}
	for _, h := range []string{"-h", "--help"} {
		res := r.script(env, "alpha", h)
		if res.Code != 0 || !strings.Contains(res.Stdout, "Usage:") || !strings.Contains(res.Stdout, "--multi-arch") {
			t.Errorf("%s: exit %d\n%s%s", h, res.Code, res.Stdout, res.Stderr)
		}
	}
	if len(r.runs()) != 1 {
		t.Errorf("%d runs started, want only the broken build's", len(r.runs()))
	}
	// With one service failing (after a few seconds, so that the other is
	// built first under fail-fast), the other's env file is still written.
	res := r.script(env, "alpha", "broken")
	if res.Code != 1 {
		t.Fatalf("alpha+broken: exit %d\n%s", res.Code, res.Stderr)
	}
	if !engineHas(r.wantImage("alpha", "")) {
		t.Error("alpha not in the engine")
	}
	if _, err := os.Stat(filepath.Join(r.Dir, ".last-image-tag-broken.env")); err == nil {
		t.Error("wrote an env file for the failed service")
	}
	emptyDir(t, tmp)
}

// Several services and a group in one call: one slipway run, the builds
// overlapping, each service with its own tag and env file.
func TestScriptParallelServices(t *testing.T) {
	salt := fmt.Sprint(time.Now().UnixNano())
	slow := func(s string) string {
		return "FROM " + BaseImage + "\nRUN echo " + s + salt + " > /msg && sleep 3\n"
	}
	r := newRepo(t, map[string]string{"p1": slow("p1"), "p2": slow("p2"), "p3": slow("p3")},
		"groups:\n  pair: [p1, p2]\n")
	start := time.Now()
	res := r.script([]string{"USER=bob"}, "pair", "p3")
	wall := time.Since(start)
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	recs := r.runs()
	if len(recs) != 1 {
		t.Fatalf("%d slipway runs, want one for all services", len(recs))
	}
	tags := map[string]bool{}
	type span struct{ from, to time.Time }
	var spans []span
	var sum time.Duration
	for _, svc := range []string{"p1", "p2", "p3"} {
		ref := r.wantImage(svc, "")
		tag := envFile(t, r.Dir, svc)["IMAGE_TAG"]
		if !strings.HasPrefix(tag, svc+"-bob-nogit-") || tags[tag] {
			t.Errorf("%s: tag %q", svc, tag)
		}
		tags[tag] = true
		if !engineHas(ref) {
			t.Errorf("%s not in the engine", ref)
		}
		m := recs[0].Services[svc]
		if m == nil || m.Image != ref || m.Status != "built" || m.Started == nil {
			t.Fatalf("%s: run record %+v, env file image %s", svc, m, ref)
		}
		d := time.Duration(m.DurationMS) * time.Millisecond
		if d < 3*time.Second {
			t.Errorf("%s built in %s, faster than its sleep: cached?", svc, d)
		}
		spans = append(spans, span{*m.Started, m.Started.Add(d)})
		sum += d
	}
	// At some moment at least two builds ran at once.
	overlap := false
	for i := range spans {
		for j := i + 1; j < len(spans); j++ {
			if spans[i].from.Before(spans[j].to) && spans[j].from.Before(spans[i].to) {
				overlap = true
			}
		}
	}
	var desc []string
	for _, sp := range spans {
		desc = append(desc, fmt.Sprintf("%s..%s", sp.from.Sub(spans[0].from).Round(time.Millisecond), sp.to.Sub(spans[0].from).Round(time.Millisecond)))
	}
	t.Logf("wall %s, builds (from p1's start) %v", wall.Round(time.Millisecond), desc)
	if !overlap || wall >= sum {
		t.Errorf("builds did not overlap: %v, wall %s, sum %s", desc, wall, sum)
	}
}

func TestScriptKind(t *testing.T) {
	other, otherNodes := newCluster(t)
	// The default cluster is SERVICE-test: a service name unique to this run.
	svc := fmt.Sprintf("s%d", time.Now().UnixNano()%100000000)
	def := svc + "-test"
	nodesScript := filepath.Join(repoRoot(), "scripts", "kind-nodes.sh")
	if out, err := exec.Command(nodesScript, "create", def, "1").CombinedOutput(); err != nil {
		t.Fatalf("creating %s: %v\n%s", def, err, out)
	}
	t.Cleanup(func() { exec.Command(nodesScript, "delete", def).Run() })
	defNodes := []string{def + "-control-plane", def + "-worker"}
	r := newRepo(t, map[string]string{svc: okWith(svc)}, "")
	tmp := t.TempDir()

	on := func(ref string, nodes []string) bool {
		for _, n := range nodes {
			if !nodeHas(n, ref) {
				return false
			}
		}
		return true
	}
	off := func(ref string, nodes []string) bool {
		for _, n := range nodes {
			if nodeHas(n, ref) {
				return false
			}
		}
		return true
	}
	// KIND_EXPERIMENTAL_PROVIDER=podman was forced by the old script; the
	// new one leaves provider choice to slipway, which finds docker here.
	step := func(name string, env []string, args ...string) string {
		t.Helper()
		env = append(env, "TMPDIR="+tmp)
		began := time.Now()
		res := r.script(env, append([]string{svc, "--kind"}, args...)...)
		t.Logf("%s: %s", name, time.Since(began).Round(time.Millisecond))
		if res.Code != 0 {
			t.Fatalf("%s: exit %d\n%s", name, res.Code, res.Stderr)
		}
		emptyDir(t, tmp)
		return r.wantImage(svc, strings.TrimPrefix(env[0], "IMAGE_TAG="))
	}

	// No --cluster, no KIND_CLUSTER_NAME: SERVICE-test.
	ref := step("default", []string{"IMAGE_TAG=t-default"})
	if !on(ref, defNodes) || !off(ref, otherNodes) || !engineHas(ref) {
		t.Errorf("default: %s not only in %s", ref, def)
	}
	// KIND_CLUSTER_NAME over the default.
	ref = step("KIND_CLUSTER_NAME", []string{"IMAGE_TAG=t-env", "KIND_CLUSTER_NAME=" + other})
	if !on(ref, otherNodes) || !off(ref, defNodes) || !engineHas(ref) {
		t.Errorf("KIND_CLUSTER_NAME: %s not only in %s", ref, other)
	}
	// --cluster over KIND_CLUSTER_NAME, with --cleanup: only the node copy stays.
	ref = step("--cluster --cleanup", []string{"IMAGE_TAG=t-flag", "KIND_CLUSTER_NAME=" + other}, "--cluster", def, "--cleanup")
	if !on(ref, defNodes) || !off(ref, otherNodes) {
		t.Errorf("--cluster: %s not only in %s", ref, def)
	}
	if engineHas(ref) {
		t.Errorf("--cleanup left %s in the engine", ref)
	}

	// A load that fails part way (a stopped node): exit 1, nothing left in
	// TMPDIR, and the env file not rewritten.
	if out, err := exec.Command("docker", "stop", "-t", "1", otherNodes[1]).CombinedOutput(); err != nil {
		t.Fatalf("stopping node: %v %s", err, out)
	}
	res := r.script([]string{"IMAGE_TAG=t-fail", "TMPDIR=" + tmp}, svc, "--kind", "--cluster="+other)
	if res.Code != 1 || !strings.Contains(res.Stderr, otherNodes[1]) {
		t.Errorf("failed load: exit %d\n%s", res.Code, res.Stderr)
	}
	emptyDir(t, tmp)
	if got := envFile(t, r.Dir, svc)["IMAGE_TAG"]; got != "t-flag" {
		t.Errorf("failed load rewrote the env file: tag %q", got)
	}
}

// fakeSlipway is a stand-in CLI that records its arguments and environment,
// writes a metadata file, and exits with $FAKE_EXIT: it checks what the
// script passes for flags this slipway may not have yet (--push, --platform).
const fakeSlipway = `#!/usr/bin/env bash
printf '%s\n' "$@" > "$FAKE_OUT/args"
echo "${KIND_EXPERIMENTAL_PROVIDER-unset}" > "$FAKE_OUT/provider"
meta=
while (($#)); do
  case "$1" in --metadata-file) meta=$2; shift ;; --) shift; break ;; esac
  shift
done
echo "$meta" > "$FAKE_OUT/meta"
if [[ -n "${FAKE_SLEEP:-}" ]]; then
  trap 'echo got-term > "$FAKE_OUT/signal"; kill $! 2>/dev/null; exit 130' TERM
  sleep "$FAKE_SLEEP" & wait
fi
printf '{"run":"r1","services":{' > "$meta"
sep=
for s in "$@"; do
  st=built; [[ "$s" == bad* ]] && st=failed
  printf '%s"%s":{"image":"localhost/p-%s:%s-tag","tag":"%s-tag","status":"%s"}' "$sep" "$s" "$s" "$s" "$s" "$st" >> "$meta"
  sep=,
done
echo '}}' >> "$meta"
exit "${FAKE_EXIT:-0}"
`

func TestScriptPassesFlags(t *testing.T) {
	out := t.TempDir()
	fake := filepath.Join(t.TempDir(), "slipway")
	if err := os.WriteFile(fake, []byte(fakeSlipway), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, tmp := t.TempDir(), t.TempDir()
	call := func(env []string, args ...string) (result, []string) {
		t.Helper()
		os.Remove(filepath.Join(out, "args"))
		env = append([]string{"FAKE_OUT=" + out, "TMPDIR=" + tmp, "KIND_EXPERIMENTAL_PROVIDER="}, env...)
		env = append(env, "SLIPWAY="+fake)
		res := script(t, dir, t.TempDir(), env, args...)
		b, _ := os.ReadFile(filepath.Join(out, "args"))
		emptyDir(t, tmp)
		return res, strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	// The arguments before --metadata-file, and the services after --.
	flags := func(a []string) string {
		i := slices.Index(a, "--metadata-file")
		if i < 0 {
			return strings.Join(a, " ")
		}
		return strings.Join(a[:i], " ") + " | " + strings.Join(a[i+3:], " ")
	}
	const multi = "--platform=linux/amd64,linux/arm64"
	cases := []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"a"}, "build --progress plain | a"},
		{nil, []string{"a", "--tag", "t1", "b"}, "build --progress plain --tag=t1 | a b"},
		{nil, []string{"a", "--kind"}, "build --progress plain --kind --cluster=a-test | a"},
		{nil, []string{"a", "b", "--kind"}, "build --progress plain --kind | a b"},
		{[]string{"KIND_CLUSTER_NAME=env-c"}, []string{"a", "b", "--kind"}, "build --progress plain --kind --cluster=env-c | a b"},
		{[]string{"KIND_CLUSTER_NAME=env-c"}, []string{"a", "--kind", "--cluster", "flag-c"}, "build --progress plain --kind --cluster=flag-c | a"},
		{nil, []string{"--cluster=c", "a", "--kind", "--cleanup", "--push"}, "build --progress plain --kind --cluster=c --cleanup --push | a"},
		{nil, []string{"a", "--multi-arch"}, "build --progress plain " + multi + " | a"},
		{nil, []string{"a", "--kind", "--multi-arch", "--single-arch"}, "build --progress plain --kind --cluster=a-test | a"},
		{nil, []string{"a", "--single-arch", "--multi-arch"}, "build --progress plain " + multi + " | a"},
		{[]string{"MULTI_ARCH=true"}, []string{"a"}, "build --progress plain " + multi + " | a"},
		{[]string{"MULTI_ARCH=true"}, []string{"a", "--single-arch"}, "build --progress plain | a"},
		{[]string{"MULTI_ARCH=true", "PLATFORMS=linux/riscv64"}, []string{"a"}, "build --progress plain --platform=linux/riscv64 | a"},
		{nil, []string{"a", "--", "--odd"}, "build --progress plain | a --odd"},
	}
	for _, c := range cases {
		res, args := call(c.env, c.args...)
		if res.Code != 0 {
			t.Errorf("%v: exit %d\n%s", c.args, res.Code, res.Stderr)
			continue
		}
		if got := flags(args); got != c.want {
			t.Errorf("%v %v: slipway got\n  %s\nwant\n  %s", c.env, c.args, got, c.want)
		}
		if b, _ := os.ReadFile(filepath.Join(out, "provider")); strings.TrimSpace(string(b)) != "" {
			t.Errorf("%v: KIND_EXPERIMENTAL_PROVIDER=%q", c.args, b)
		}
	}
	m := envFile(t, dir, "b")
	if m["IMAGE"] != "localhost/p-b:b-tag" || m["IMAGE_TAG"] != "b-tag" {
		t.Errorf("env file of b: %v", m)
	}

	// slipway's exit code is the script's; failed services get no env file.
	res, _ := call([]string{"FAKE_EXIT=1"}, "c", "bad1")
	if res.Code != 1 {
		t.Errorf("exit %d, want 1", res.Code)
	}
	envFile(t, dir, "c")
	if _, err := os.Stat(filepath.Join(dir, ".last-image-tag-bad1.env")); err == nil {
		t.Error("env file for a failed service")
	}

	// TERM to the script reaches slipway, whose 130 the script returns; the
	// metadata temp file goes too.
	os.Remove(filepath.Join(out, "meta"))
	cmd := exec.Command(scriptPath(), "slowsvc")
	cmd.Dir = dir
	cmd.Env = scriptEnv(t.TempDir(), []string{"SLIPWAY=" + fake, "FAKE_OUT=" + out, "TMPDIR=" + tmp, "FAKE_SLEEP=30"})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(filepath.Join(out, "meta")); strings.Contains(string(b), tmp) {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the fake slipway never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let the fake set its traps
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 {
		t.Errorf("after SIGTERM: %v, want exit 130", err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "signal")); strings.TrimSpace(string(b)) != "got-term" {
		t.Errorf("slipway did not get the TERM: %q", b)
	}
	emptyDir(t, tmp)
}

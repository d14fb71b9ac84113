// Package faults is issue 10's fault-and-abuse suite: it runs the slipway
// CLI against the real engine and Kind-shaped nodes while killing daemons,
// nodes and slipway itself, filling disks, corrupting records, sharing the
// host between Unix users and feeding hostile configs. Each scenario logs a
// figure line ("FAULT scenario=… tries=N failed=F lost=L …"); with
// SLIPWAY_FAULTS_REPORT=path the suite also writes a summary table there
// (docs/reliability.md quotes it). Tests fail, never skip, when a component
// is missing. The CPU-bound scenarios (100 runs, 5 users, node kill) and
// the second-daemon one run one at a time; the light ones run in parallel
// after them, two at a time on two cores.
package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/run"
)

// Images scripts/setup.sh builds from Debian packages.
const (
	BaseImage = "slipway.local/base/debian:bookworm"
	NodeImage = "slipway.local/base/kind-node:bookworm"
)

var (
	bin     string // the slipway CLI, built once, in a folder every user can read
	repoDir string // the repository root
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repoDir = filepath.Join(filepath.Dir(file), "..", "..")
	dir, err := os.MkdirTemp("", "slipway-faults-")
	if err != nil {
		panic(err)
	}
	// Other Unix users run this binary (TestUsersShareHost).
	if err := os.Chmod(dir, 0o755); err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "slipway")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/slipway")
	cmd.Dir = repoDir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building slipway:", err)
		os.Exit(1)
	}
	code := m.Run()
	if p := os.Getenv("SLIPWAY_FAULTS_REPORT"); p != "" {
		if err := writeReport(p); err != nil {
			fmt.Fprintln(os.Stderr, "writing the fault report:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// figure is one scenario's account: how often the fault was tried, how
// many tries did not end the way the scenario demands, and how many things
// were lost (an image, a record, a process left behind, a ref removed that
// was not ours). The goal is failed=0 lost=0.
type figure struct {
	Scenario string
	Tries    int
	Failed   int
	Lost     int
	Note     string
	Result   string
	Seconds  float64

	mu sync.Mutex
}

func (f *figure) add(tries, failed, lost int) {
	f.mu.Lock()
	f.Tries += tries
	f.Failed += failed
	f.Lost += lost
	f.mu.Unlock()
}

func (f *figure) note(format string, a ...any) {
	f.mu.Lock()
	if f.Note != "" {
		f.Note += "; "
	}
	f.Note += fmt.Sprintf(format, a...)
	f.mu.Unlock()
}

var figures struct {
	sync.Mutex
	list []*figure
}

// newFigure starts scenario's figure; the line is logged when the test ends
// (its first cleanup runs last), with the test's outcome.
func newFigure(t *testing.T, scenario string) *figure {
	f := &figure{Scenario: scenario}
	start := time.Now()
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.Seconds = time.Since(start).Seconds()
		f.Result = "pass"
		if t.Failed() {
			f.Result = "FAIL"
		}
		t.Logf("FAULT scenario=%s tries=%d failed=%d lost=%d result=%s seconds=%.1f note=%q",
			f.Scenario, f.Tries, f.Failed, f.Lost, f.Result, f.Seconds, f.Note)
		figures.Lock()
		figures.list = append(figures.list, f)
		figures.Unlock()
	})
	return f
}

func writeReport(path string) error {
	figures.Lock()
	defer figures.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "| scenario | tries | failed | lost | result | seconds | notes |\n|---|---:|---:|---:|---|---:|---|\n")
	for _, f := range figures.list {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s | %.1f | %s |\n", f.Scenario, f.Tries, f.Failed, f.Lost,
			f.Result, f.Seconds, strings.ReplaceAll(f.Note, "|", "/"))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// needImages fails the test unless the engine at host ("" for the default)
// answers and holds refs.
func needImages(t *testing.T, host string, refs ...string) {
	t.Helper()
	for _, ref := range refs {
		if out, err := dockerCmd(host, "image", "inspect", "--format", "{{.Id}}", ref).CombinedOutput(); err != nil {
			t.Fatalf("the fault suite needs %s in the engine (run scripts/setup.sh): %v\n%s", ref, err, out)
		}
	}
}

// dockerCmd is the docker CLI aimed at host ("" for the default daemon).
func dockerCmd(host string, args ...string) *exec.Cmd {
	cmd := exec.Command("docker", args...)
	if host != "" {
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
	}
	return cmd
}

// docker runs the docker CLI against host and fails the test on error.
func docker(t *testing.T, host string, args ...string) string {
	t.Helper()
	out, err := dockerCmd(host, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// imageID is ref's ID in the engine at host, "" when it has none.
func imageID(host, ref string) string {
	out, err := dockerCmd(host, "image", "inspect", "--format", "{{.Id}}", ref).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// imagesLabelled lists the refs (repo:tag) of the engine's images carrying
// label (key=value); untagged ones show as <none>:<none>@ID.
func imagesLabelled(t *testing.T, host, label string) []string {
	t.Helper()
	out := docker(t, host, "image", "ls", "-a", "--no-trunc", "--filter", "label="+label, "--format", "{{.Repository}}:{{.Tag}}@{{.ID}}")
	var refs []string
	for _, l := range strings.Fields(out) {
		if strings.HasPrefix(l, "<none>") {
			refs = append(refs, l)
		} else {
			refs = append(refs, l[:strings.LastIndex(l, "@")])
		}
	}
	return refs
}

// repo is a throw-away repository with a slipway.yaml, in folders any Unix
// user can read.
type repo struct {
	t       *testing.T
	Dir     string
	Project string
	State   string
	Host    string // DOCKER_HOST for the CLI, "" for the default daemon
}

var projectSeq struct {
	sync.Mutex
	n int
}

// publicTempDir is a 0755 temp folder removed when the test ends (t.TempDir
// makes 0700 ones, which other users cannot enter).
func publicTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "slipway-fault-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// newRepo writes dockerfiles (service -> Dockerfile body) and a config with
// extra appended; files maps further paths to contents.
func newRepo(t *testing.T, dockerfiles map[string]string, extra string) *repo {
	t.Helper()
	needImages(t, "", BaseImage)
	dir := publicTempDir(t)
	projectSeq.Lock()
	projectSeq.n++
	project := fmt.Sprintf("flt%d%d", time.Now().UnixNano()%1000000, projectSeq.n)
	projectSeq.Unlock()
	var y strings.Builder
	fmt.Fprintf(&y, "project: %s\nservices:\n", project)
	names := make([]string, 0, len(dockerfiles))
	for n := range dockerfiles {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		writeFile(t, filepath.Join(dir, name+".Dockerfile"), dockerfiles[name])
		fmt.Fprintf(&y, "  %s:\n    dockerfile: %s.Dockerfile\n", name, name)
	}
	y.WriteString(extra)
	writeFile(t, filepath.Join(dir, "slipway.yaml"), y.String())
	r := &repo{t: t, Dir: dir, Project: project, State: t.TempDir()}
	t.Cleanup(func() { removeProjectImages(r.Host, project) })
	return r
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// removeProjectImages untags every image a test project made.
func removeProjectImages(host, project string) {
	out, _ := dockerCmd(host, "image", "ls", "--filter", "label=dev.slipway.project="+project, "--format", "{{.Repository}}:{{.Tag}}").Output()
	var refs []string
	for _, r := range strings.Fields(string(out)) {
		if !strings.Contains(r, "<none>") {
			refs = append(refs, r)
		}
	}
	if len(refs) > 0 {
		dockerCmd(host, append([]string{"image", "rm", "-f"}, refs...)...).Run()
	}
}

// okWith is a tiny Dockerfile whose image says msg.
func okWith(msg string) string {
	return "FROM " + BaseImage + "\nRUN echo " + msg + " > /msg\nCMD [\"cat\", \"/msg\"]\n"
}

// result is one CLI invocation.
type result struct {
	Code           int
	Stdout, Stderr string
	Meta           run.Record
	Elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %s\nstdout:\n%s\nstderr:\n%s", r.Code, r.Elapsed.Round(time.Millisecond), r.Stdout, r.Stderr)
}

// command is the CLI in the repo with env added; a build gets a metadata
// file (read back by finish).
func (r *repo) command(ctx context.Context, env []string, args ...string) (*exec.Cmd, string) {
	meta := ""
	if len(args) > 0 && args[0] == "build" && !slices.Contains(args, "--metadata-file") {
		meta = filepath.Join(r.State, fmt.Sprintf("meta-%d.json", time.Now().UnixNano()))
		args = append(args, "--metadata-file", meta)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = r.Dir
	cmd.Env = append(os.Environ(), "SLIPWAY_STATE_DIR="+r.State)
	if r.Host != "" {
		cmd.Env = append(cmd.Env, "DOCKER_HOST="+r.Host)
	}
	cmd.Env = append(cmd.Env, env...)
	return cmd, meta
}

// slipway runs the CLI in the repo and returns how it ended.
func (r *repo) slipway(ctx context.Context, env []string, args ...string) result {
	r.t.Helper()
	cmd, meta := r.command(ctx, env, args...)
	return runCmd(r.t, cmd, meta)
}

// runCmd runs cmd and returns its output and exit code, with the metadata
// file meta read back when there is one; only a failure to start it fails
// the test.
func runCmd(t *testing.T, cmd *exec.Cmd, meta string) result {
	t.Helper()
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	return finish(t, cmd, &so, &se, meta, start)
}

func finish(t *testing.T, cmd *exec.Cmd, so, se *bytes.Buffer, meta string, start time.Time) result {
	t.Helper()
	err := cmd.Wait()
	res := result{Stdout: so.String(), Stderr: se.String(), Elapsed: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", cmd.Path, err)
	}
	if meta != "" {
		if b, err := os.ReadFile(meta); err == nil && len(b) > 0 {
			if err := json.Unmarshal(b, &res.Meta); err != nil {
				t.Errorf("metadata file %s: %v\n%s", meta, err, b)
			}
		}
	}
	return res
}

// kindNodes runs scripts/kind-nodes.sh create against host and deletes the
// cluster when the test ends.
func kindNodes(t *testing.T, host string, workers int) (cluster string, nodes []string) {
	t.Helper()
	needImages(t, host, NodeImage)
	if _, err := exec.LookPath("kind"); err != nil {
		t.Fatalf("the kind CLI is needed (run scripts/setup.sh): %v", err)
	}
	cluster = fmt.Sprintf("flt%d", time.Now().UnixNano()%10000000)
	script := filepath.Join(repoDir, "scripts", "kind-nodes.sh")
	cmd := exec.Command(script, "create", cluster, fmt.Sprint(workers))
	if host != "" {
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
	}
	t.Cleanup(func() {
		del := exec.Command(script, "delete", cluster)
		del.Env = cmd.Env
		del.Run()
	})
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("creating Kind-shaped nodes: %v\n%s", err, out)
	}
	nodes = append(nodes, cluster+"-control-plane")
	for i := 1; i <= workers; i++ {
		if i == 1 {
			nodes = append(nodes, cluster+"-worker")
		} else {
			nodes = append(nodes, fmt.Sprintf("%s-worker%d", cluster, i))
		}
	}
	return cluster, nodes
}

// nodeImageID is the image ID the node's containerd holds under ref ("" when
// none), as the CRI sees it.
func nodeImageID(host, node, ref string) string {
	out, err := dockerCmd(host, "exec", node, "crictl", "inspecti", "-o", "go-template", "--template", "{{.status.id}}", ref).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// lastLine is s's last non-empty line.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// waitFor polls cond every 100 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cond()
}

// lastLines is s's last n lines.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

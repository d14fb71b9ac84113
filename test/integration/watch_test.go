package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/run"
	"github.com/slipway-dev/slipway/pkg/watch"
)

// watchProc is a running `slipway watch`, its cycle lines read as they come.
type watchProc struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
	seen  []string
}

func startWatch(t *testing.T, r *repo, env []string, args ...string) *watchProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"watch"}, args...)...)
	cmd.Dir = r.Dir
	cmd.Env = append(append(os.Environ(), "SLIPWAY_STATE_DIR="+r.State), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errLog := filepath.Join(t.TempDir(), "stderr")
	ef, _ := os.Create(errLog)
	cmd.Stderr = ef
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &watchProc{t: t, cmd: cmd, lines: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		close(w.lines)
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			b, _ := os.ReadFile(errLog)
			t.Logf("watch stderr:\n%s", b)
		}
	})
	return w
}

// cycle waits for the line of cycle #n (other output, e.g. --exec's, is
// skipped) and returns it.
func (w *watchProc) cycle(n int, timeout time.Duration) string {
	w.t.Helper()
	prefix := "#" + itoa(n) + " "
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-w.lines:
			if !ok {
				w.t.Fatalf("watch ended before cycle #%d; lines: %q", n, w.seen)
			}
			if strings.HasPrefix(l, "#") {
				w.seen = append(w.seen, l)
			}
			if strings.HasPrefix(l, prefix) {
				w.t.Logf("%s", l)
				return l
			}
			if strings.HasPrefix(l, "#") {
				w.t.Fatalf("got %q while waiting for cycle #%d", l, n)
			}
		case <-deadline:
			w.t.Fatalf("no cycle #%d after %s; lines: %q", n, timeout, w.seen)
		}
	}
}

// quiet fails if a cycle line comes within d.
func (w *watchProc) quiet(d time.Duration) {
	w.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case l := <-w.lines:
			if strings.HasPrefix(l, "#") {
				w.t.Fatalf("unexpected cycle: %s", l)
			}
		case <-deadline:
			return
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

var runOfLine = regexp.MustCompile(`\(run (\S+)\)$`)

// record loads the run of a cycle line.
func (r *repo) record(t *testing.T, line string) run.Record {
	t.Helper()
	m := runOfLine.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no run in %q", line)
	}
	rec, _, err := run.Load(r.State, m[1])
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// nodeRefs lists the names of the project's images on a node.
func nodeRefs(t *testing.T, node, project string) []string {
	t.Helper()
	var out []string
	for _, ref := range strings.Fields(nodeExec(t, node, "ctr", "-n", "k8s.io", "images", "ls", "-q")) {
		if strings.Contains(ref, project) && !strings.HasPrefix(ref, "sha256:") {
			out = append(out, ref)
		}
	}
	return out
}

// waitBuilding waits until a run newer than after is building svc: the
// watch's cycle has got past its digests and into the build.
func (r *repo) waitBuilding(t *testing.T, svc, after string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir(filepath.Join(r.State, "runs"))
		for _, e := range ents {
			if e.Name() <= after {
				continue
			}
			if rec, _, err := run.Load(r.State, e.Name()); err == nil && rec.Services[svc] != nil && rec.Services[svc].Status == run.Building {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no run after %s started building %s", after, svc)
}

// settledRefs is nodeRefs once it holds want names, or after 60 s: the
// watch retires the older run just after printing the cycle's line.
func settledRefs(t *testing.T, node, project string, want int) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		refs := nodeRefs(t, node, project)
		if len(refs) == want || time.Now().After(deadline) {
			return refs
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func writeFile(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyMsg is a Dockerfile whose image prints the content of one file.
func copyMsg(file, extra string) string {
	return "FROM " + BaseImage + "\nCOPY " + file + " /msg\n" + extra + "CMD [\"cat\", \"/msg\"]\n"
}

// One watch through the cases, on one Kind-shaped cluster: an edit
// rebuilds and loads one service; an edit outside every service's inputs
// builds nothing; two quick edits make one cycle; an edit during a build
// supersedes it and leaves no older image on the nodes; --exec gets the
// refs; Ctrl-C exits 130 and `slipway clean` then removes everything.
func TestWatch(t *testing.T) {
	cluster, nodes := newCluster(t)
	r := newRepo(t, map[string]string{
		"alpha": copyMsg("alpha.txt", ""),
		"beta":  copyMsg("beta.txt", ""),
		"slow":  copyMsg("slow.txt", "RUN sleep 12\n"),
	}, "")
	writeFile(t, r.Dir, "alpha.txt", "alpha-v1")
	writeFile(t, r.Dir, "beta.txt", "beta-v1")
	writeFile(t, r.Dir, "slow.txt", "slow-v1")
	writeFile(t, r.Dir, ".dockerignore", "*.tmp\n")
	execDir := t.TempDir()
	w := startWatch(t, r, []string{"OUT=" + execDir}, "--kind="+cluster,
		"--exec", `cat > "$OUT/$SLIPWAY_CYCLE.json"; env | grep ^SLIPWAY_ | sort > "$OUT/$SLIPWAY_CYCLE.env"`)

	first := w.cycle(1, 4*time.Minute)
	if !strings.Contains(first, "rebuilt alpha, beta, slow") {
		t.Fatalf("first cycle: %s", first)
	}
	checkExec(t, execDir, 1, r.record(t, first))

	// One edit: one rebuild, one load (beta and slow are re-tagged, not sent).
	writeFile(t, r.Dir, "alpha.txt", "alpha-v2")
	line := w.cycle(2, 2*time.Minute)
	rec := r.record(t, line)
	if !strings.Contains(line, "changed alpha.txt; rebuilt alpha; reused 2;") {
		t.Fatalf("edit of alpha.txt: %s", line)
	}
	loads := 0
	for svc, s := range rec.Services {
		want := run.Reused
		if svc == "alpha" {
			want = run.Built
		}
		if s.Status != want {
			t.Errorf("%s: %s, want %s", svc, s.Status, want)
		}
		for n, a := range s.Kind.Nodes {
			if a == "loaded" {
				loads++
				if svc != "alpha" {
					t.Errorf("%s sent to %s again", svc, n)
				}
			}
		}
	}
	if loads != len(nodes) {
		t.Errorf("alpha loaded %d times, want once per node (%d)", loads, len(nodes))
	}
	alpha := rec.Services["alpha"].Image
	for _, n := range nodes {
		if out := nodeExec(t, n, "ctr", "-n", "k8s.io", "run", "--rm", alpha, "w2-"+n); strings.TrimSpace(out) != "alpha-v2" {
			t.Errorf("%s on %s printed %q", alpha, n, out)
		}
		// The first cycle's names go: the watch retires its run once the
		// new one is on the nodes.
		if refs := settledRefs(t, n, r.Project, 3); len(refs) != 3 {
			t.Errorf("%s holds %d names of the project, want 3: %v", n, len(refs), refs)
		}
	}
	checkExec(t, execDir, 2, rec)

	// Edits outside every service's inputs: no cycle.
	writeFile(t, r.Dir, "notes.txt", "not copied by any Dockerfile")
	writeFile(t, r.Dir, "scratch.tmp", "dockerignored")
	w.quiet(4 * time.Second)

	// Two quick edits: one cycle, of the second.
	writeFile(t, r.Dir, "beta.txt", "beta-v2")
	time.Sleep(50 * time.Millisecond)
	writeFile(t, r.Dir, "beta.txt", "beta-v3")
	line = w.cycle(3, 2*time.Minute)
	if !strings.Contains(line, "rebuilt beta;") {
		t.Fatalf("two quick edits: %s", line)
	}
	w.quiet(2 * time.Second)
	beta := r.record(t, line).Services["beta"].Image
	if out := nodeExec(t, nodes[1], "ctr", "-n", "k8s.io", "run", "--rm", beta, "w3"); strings.TrimSpace(out) != "beta-v3" {
		t.Errorf("beta printed %q, want beta-v3", out)
	}

	// An edit during a build: that cycle is superseded, the next one
	// delivers the newest content, and no older image is left on the nodes.
	writeFile(t, r.Dir, "slow.txt", "slow-v2")
	r.waitBuilding(t, "slow", r.record(t, line).Run)
	time.Sleep(time.Second) // the build is in its RUN sleep
	writeFile(t, r.Dir, "slow.txt", "slow-v3")
	stale := w.cycle(4, 2*time.Minute)
	if !strings.Contains(stale, "superseded") {
		t.Fatalf("edit during a build: %s", stale)
	}
	line = w.cycle(5, 2*time.Minute)
	if !strings.Contains(line, "changed slow.txt; rebuilt slow;") {
		t.Fatalf("after the superseded cycle: %s", line)
	}
	rec = r.record(t, line)
	for _, n := range nodes {
		refs := settledRefs(t, n, r.Project, 3)
		if len(refs) != 3 {
			t.Errorf("%s holds %v, want only the newest 3 names", n, refs)
		}
		for _, ref := range refs {
			if strings.Contains(ref, "-slow:") && ref != rec.Services["slow"].Image {
				t.Errorf("%s holds an older slow image %s", n, ref)
			}
		}
		if out := nodeExec(t, n, "ctr", "-n", "k8s.io", "run", "--rm", rec.Services["slow"].Image, "w5-"+n); strings.TrimSpace(out) != "slow-v3" {
			t.Errorf("slow on %s printed %q, want slow-v3", n, out)
		}
	}
	checkExec(t, execDir, 5, rec)
	if _, err := os.Stat(filepath.Join(execDir, "4.json")); err == nil {
		t.Error("--exec ran for the superseded cycle")
	}

	// Ctrl-C: exit 130; clean then removes what the watch left.
	w.cmd.Process.Signal(os.Interrupt)
	if err := w.cmd.Wait(); w.cmd.ProcessState.ExitCode() != 130 {
		t.Fatalf("after Ctrl-C: %v (exit %d), want 130", err, w.cmd.ProcessState.ExitCode())
	}
	clean := r.slipway(context.Background(), nil, "clean")
	if clean.Code != 0 {
		t.Fatalf("clean: exit %d\n%s%s", clean.Code, clean.Stdout, clean.Stderr)
	}
	for _, n := range nodes {
		if refs := nodeRefs(t, n, r.Project); len(refs) != 0 {
			t.Errorf("after clean %s holds %v", n, refs)
		}
	}
	out, _ := exec.Command("docker", "image", "ls", "--filter", "label=dev.slipway.project="+r.Project, "--format", "{{.Repository}}:{{.Tag}}").Output()
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("after clean the engine holds:\n%s", s)
	}
}

// checkExec compares what --exec got for cycle n with the cycle's run.
func checkExec(t *testing.T, dir string, n int, rec run.Record) {
	t.Helper()
	// --exec runs just after the cycle's line; its .env is written last.
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, itoa(n)+".env")); err == nil {
			time.Sleep(100 * time.Millisecond)
			break
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, itoa(n)+".json"))
	if err != nil {
		t.Fatalf("--exec of cycle %d: %v", n, err)
	}
	var in watch.ExecInput
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatalf("--exec stdin: %v\n%s", err, b)
	}
	env, _ := os.ReadFile(filepath.Join(dir, itoa(n)+".env"))
	if in.Run != rec.Run || in.Cycle != n {
		t.Errorf("--exec got run %s cycle %d, want %s %d", in.Run, in.Cycle, rec.Run, n)
	}
	for svc, s := range rec.Services {
		if in.Images[svc] != s.Image {
			t.Errorf("--exec JSON: %s = %q, want %q", svc, in.Images[svc], s.Image)
		}
		if kv := watch.EnvName(svc) + "=" + s.Image; !strings.Contains(string(env), kv+"\n") {
			t.Errorf("--exec env lacks %s:\n%s", kv, env)
		}
	}
}

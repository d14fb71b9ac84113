package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const ok = "FROM " + BaseImage + "\nRUN echo building\n"

func okWith(msg string) string {
	return "FROM " + BaseImage + "\nRUN echo " + msg + " > /msg\nCMD [\"cat\", \"/msg\"]\n"
}

var tagShape = regexp.MustCompile(`^[a-z0-9]+-[a-z0-9_.-]+-[0-9a-f]{7}(-dirty)?-\d{10}(-\d+)?$`)

func TestBuildProducesRefsAndLabels(t *testing.T) {
	r := newRepo(t, map[string]string{"alpha": okWith("alpha"), "beta": okWith("beta")}, "")
	exec.Command("git", "-C", r.Dir, "init", "-q").Run()
	exec.Command("git", "-C", r.Dir, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x").Run()
	res := r.slipway(context.Background(), []string{"USER=Alice"}, "build", "--progress", "plain")
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	for _, svc := range []string{"alpha", "beta"} {
		m := res.Meta.Services[svc]
		if m == nil || m.Status != "built" {
			t.Fatalf("%s: %+v", svc, m)
		}
		wantName := "localhost/" + r.Project + "-" + svc + ":"
		if !strings.HasPrefix(m.Image, wantName) || !tagShape.MatchString(m.Tag) || !strings.HasPrefix(m.Tag, svc+"-alice-") {
			t.Fatalf("%s: ref %s tag %s", svc, m.Image, m.Tag)
		}
		img := inspect(t, m.Image)
		if img.ID != m.ID {
			t.Fatalf("%s: metadata id %s, engine %s", svc, m.ID, img.ID)
		}
		for k, v := range map[string]string{
			"dev.slipway.service": svc, "dev.slipway.user": "alice", "dev.slipway.run": res.Meta.Run,
			"dev.slipway.project": r.Project,
		} {
			if img.Labels[k] != v {
				t.Errorf("%s: label %s=%q, want %q", svc, k, img.Labels[k], v)
			}
		}
		for _, k := range []string{"org.opencontainers.image.revision", "org.opencontainers.image.created", "org.opencontainers.image.source"} {
			if img.Labels[k] == "" {
				t.Errorf("%s: label %s missing", svc, k)
			}
		}
		out, err := exec.Command("docker", "run", "--rm", m.Image).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != svc {
			t.Errorf("%s: running image: %v %q", svc, err, out)
		}
	}
	if !strings.Contains(res.Stderr, "[alpha]") {
		t.Errorf("plain progress lacks [service] prefixes:\n%s", res.Stderr)
	}
	if !strings.Contains(res.Stdout, "SERVICE") || !strings.Contains(res.Stdout, "built") {
		t.Errorf("no result table:\n%s", res.Stdout)
	}
}

func TestDependsOnPassesRef(t *testing.T) {
	r := newRepo(t, map[string]string{
		"base": okWith("from-base"),
		"app":  "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN test -f /msg\n",
	}, "")
	// app depends on base
	cfg := filepath.Join(r.Dir, "slipway.yaml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(b), "  app:\n", "  app:\n    depends_on: [base]\n", 1)), 0o644)
	res := r.slipway(context.Background(), nil, "build", "app", "--progress", "quiet")
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	if res.Meta.Services["base"] == nil || res.Meta.Services["base"].Status != "built" {
		t.Fatalf("dependency not built first: %+v", res.Meta.Services)
	}
}

func TestFailFastCancelsTheRest(t *testing.T) {
	r := newRepo(t, map[string]string{
		"bad":  "FROM " + BaseImage + "\nRUN echo step-one && echo about-to-fail && exit 3\n",
		"slow": "FROM " + BaseImage + "\nRUN sleep 120\n",
	}, "")
	start := time.Now()
	res := r.slipway(context.Background(), nil, "build", "--progress", "plain", "--no-cache")
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", res.Code, res.Stderr)
	}
	if el := time.Since(start); el > 60*time.Second {
		t.Fatalf("fail-fast took %s: the slow build was not cancelled", el)
	}
	if s := res.Meta.Services["bad"].Status; s != "failed" {
		t.Fatalf("bad: %s", s)
	}
	if s := res.Meta.Services["slow"].Status; s != "cancelled" {
		t.Fatalf("slow: %s", s)
	}
	// The report names the service, the command, the status, the last lines and the log.
	for _, want := range []string{"bad: build failed", "buildx build", "exited with status", "about-to-fail", res.Meta.Services["bad"].Log} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("failure report lacks %q:\n%s", want, res.Stderr)
		}
	}
}

func TestKeepGoingReportsEveryFailure(t *testing.T) {
	r := newRepo(t, map[string]string{
		"bad1": "FROM " + BaseImage + "\nRUN exit 4\n",
		"bad2": "FROM " + BaseImage + "\nRUN sleep 2 && exit 5\n",
		"good": "FROM " + BaseImage + "\nRUN sleep 4\n",
	}, "")
	res := r.slipway(context.Background(), nil, "build", "--keep-going", "--progress", "quiet", "--no-cache")
	if res.Code != 1 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	want := map[string]string{"bad1": "failed", "bad2": "failed", "good": "built"}
	for s, st := range want {
		if got := res.Meta.Services[s].Status; string(got) != st {
			t.Errorf("%s: %s, want %s", s, got, st)
		}
	}
	if !strings.Contains(res.Stderr, "bad1: build failed") || !strings.Contains(res.Stderr, "bad2: build failed") {
		t.Errorf("not every failure reported:\n%s", res.Stderr)
	}
}

func TestInterruptLeavesNoBuildProcess(t *testing.T) {
	r := newRepo(t, map[string]string{
		"s1": "FROM " + BaseImage + "\nRUN sleep 300\n",
		"s2": "FROM " + BaseImage + "\nRUN sleep 301\n",
	}, "")
	cmd := exec.Command(bin, "build", "--progress", "plain", "--no-cache")
	cmd.Dir = r.Dir
	cmd.Env = append(os.Environ(), "SLIPWAY_STATE_DIR="+r.State)
	var out strings.Builder
	var mu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		started := strings.Contains(out.String(), "sleep 300") && strings.Contains(out.String(), "sleep 301")
		mu.Unlock()
		if started {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("builds never started:\n%s", out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130", err)
	}
	// No client process (buildx, docker) still names this repo, and the
	// sleeps inside the daemon's build containers are gone too.
	// The daemon tears its build containers down after the cancelled
	// solve returns; give it some seconds (2 s was too few once, at load
	// ~10), but no process may outlive that.
	var left []string
	for end := time.Now().Add(15 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		if left = processesMatching(r.Dir, "sleep 300", "sleep 301"); len(left) == 0 || time.Now().After(end) {
			break
		}
	}
	if len(left) > 0 {
		t.Fatalf("processes left behind 15 s after the exit: %v", left)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// processesMatching lists running processes whose command line contains any needle.
func processesMatching(needles ...string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		line := strings.ReplaceAll(string(b), "\x00", " ")
		for _, n := range needles {
			if strings.Contains(line, n) {
				out = append(out, e.Name()+": "+line)
				break
			}
		}
	}
	return out
}

func TestTagsNeverCollide(t *testing.T) {
	r := newRepo(t, map[string]string{"svc": ok}, "")
	// Same user, same second, same commit: two runs at once.
	var wg sync.WaitGroup
	results := make([]result, 3)
	users := []string{"USER=bob", "USER=bob", "USER=carol"}
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = r.slipway(context.Background(), []string{users[i]}, "build", "--progress", "quiet")
		}(i)
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, res := range results {
		if res.Code != 0 {
			t.Fatalf("run %d: exit %d\n%s", i, res.Code, res.Stderr)
		}
		ref := res.Meta.Services["svc"].Image
		if seen[ref] {
			t.Fatalf("two runs produced %s", ref)
		}
		seen[ref] = true
		if img := inspect(t, ref); img.ID != res.Meta.Services["svc"].ID {
			t.Fatalf("%s was overwritten by another run", ref)
		}
	}
}

func TestBadInputExits2WithNothingBuilt(t *testing.T) {
	r := newRepo(t, map[string]string{"svc": ok}, "")
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"invalid tag", nil, []string{"build", "--tag", "x/y:z"}, "invalid tag"},
		{"invalid IMAGE_TAG", []string{"IMAGE_TAG=bad tag"}, []string{"build"}, "IMAGE_TAG"},
		{"unknown service", nil, []string{"build", "nosuch"}, `unknown service or group "nosuch"`},
		{"bad jobs", nil, []string{"build", "--jobs", "-1"}, "--jobs"},
		{"unknown engine", nil, []string{"build", "--engine", "rkt"}, "unknown engine"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := r.slipway(context.Background(), c.env, c.args...)
			if res.Code != 2 || !strings.Contains(res.Stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", res.Code, res.Stderr, c.want)
			}
			if n := strings.Count(strings.TrimSpace(res.Stderr), "\n"); n != 0 {
				t.Errorf("error is %d lines, want one:\n%s", n+1, res.Stderr)
			}
		})
	}
	broken := map[string]string{
		"cycle":              "  svc:\n    dockerfile: svc.Dockerfile\n    depends_on: [other]\n  other:\n    dockerfile: svc.Dockerfile\n    depends_on: [svc]\n",
		"missing Dockerfile": "  svc:\n    dockerfile: gone.Dockerfile\n",
	}
	for name, services := range broken {
		t.Run(name, func(t *testing.T) {
			os.WriteFile(filepath.Join(r.Dir, "slipway.yaml"), []byte("project: "+r.Project+"\nservices:\n"+services), 0o644)
			res := r.slipway(context.Background(), nil, "build")
			if res.Code != 2 || !strings.Contains(res.Stderr, "slipway.yaml:") {
				t.Fatalf("exit %d: %s", res.Code, res.Stderr)
			}
		})
	}
	out, _ := exec.Command("docker", "image", "ls", "-q", "--filter", "label=dev.slipway.project="+r.Project).Output()
	if len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("bad input still built images: %s", out)
	}
}

func TestFixedTagNeverOverwritesForeignImage(t *testing.T) {
	r := newRepo(t, map[string]string{"svc": ok}, "")
	foreign := "localhost/" + r.Project + "-svc:shared"
	if err := exec.Command("docker", "tag", BaseImage, foreign).Run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", foreign).Run() })
	before := inspect(t, foreign).ID
	res := r.slipway(context.Background(), nil, "build", "--tag", "shared")
	if res.Code != 2 || !strings.Contains(res.Stderr, "refusing to overwrite") {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	if inspect(t, foreign).ID != before {
		t.Fatal("foreign image overwritten")
	}
	// The user's own earlier image under a fixed tag may be rebuilt.
	res = r.slipway(context.Background(), []string{"IMAGE_TAG=mine"}, "build")
	if res.Code != 0 || res.Meta.Services["svc"].Tag != "mine" {
		t.Fatalf("IMAGE_TAG: exit %d %+v\n%s", res.Code, res.Meta.Services["svc"], res.Stderr)
	}
	res = r.slipway(context.Background(), []string{"IMAGE_TAG=mine"}, "build", "--tag", "override")
	if res.Code != 0 || res.Meta.Services["svc"].Tag != "override" {
		t.Fatalf("--tag must beat IMAGE_TAG: %+v", res.Meta.Services["svc"])
	}
}

func TestHostJobsSharedAcrossProcesses(t *testing.T) {
	r := newRepo(t, map[string]string{"one": "FROM " + BaseImage + "\nRUN sleep 3\n", "two": "FROM " + BaseImage + "\nRUN sleep 3\n"}, "")
	env := []string{"SLIPWAY_HOST_SLOTS_DIR=" + t.TempDir()}
	var wg sync.WaitGroup
	res := make([]result, 2)
	for i, svc := range []string{"one", "two"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = r.slipway(context.Background(), env, "build", svc, "--host-jobs", "1", "--no-cache", "--progress", "quiet")
		}()
	}
	wg.Wait()
	type span struct{ from, to time.Time }
	var spans []span
	for i, svc := range []string{"one", "two"} {
		m := res[i].Meta.Services[svc]
		if res[i].Code != 0 || m.Started == nil {
			t.Fatalf("%s: exit %d %+v\n%s", svc, res[i].Code, m, res[i].Stderr)
		}
		spans = append(spans, span{*m.Started, m.Started.Add(time.Duration(m.DurationMS) * time.Millisecond)})
	}
	if spans[0].from.Before(spans[1].to) && spans[1].from.Before(spans[0].to) {
		t.Fatalf("builds overlapped under --host-jobs 1: %v", spans)
	}
}

func TestTimeoutBoundsEachBuild(t *testing.T) {
	r := newRepo(t, map[string]string{"slow": "FROM " + BaseImage + "\nRUN sleep 97\n", "quick": okWith("quick")}, "")
	start := time.Now()
	// 20 s: long enough for the quick build on a loaded machine, far below
	// the slow one's 97.
	res := r.slipway(context.Background(), nil, "build", "--timeout", "20s", "--keep-going", "--no-cache", "--progress", "quiet")
	if res.Code != 1 || !strings.Contains(res.Stderr, "timed out after 20s") {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	if time.Since(start) > 80*time.Second {
		t.Fatalf("timeout not enforced: %s", time.Since(start))
	}
	if res.Meta.Services["quick"].Status != "built" || res.Meta.Services["slow"].Status != "failed" {
		t.Fatalf("statuses %+v %+v", res.Meta.Services["quick"], res.Meta.Services["slow"])
	}
	time.Sleep(time.Second)
	if left := processesMatching("sleep 97"); len(left) > 0 {
		t.Fatalf("timed-out build left processes: %v", left)
	}
}

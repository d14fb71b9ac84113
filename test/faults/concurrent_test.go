package faults

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestHundredRunsInOneSecond covers issue 10's "100 concurrent runs by the
// same user in the same second" (and the defect "each run within 24 h adds
// -2, -3…, and run 101 fails"): every run must succeed, every run's ref must
// be distinct, and every ref must name the image that run recorded. Reuse
// kicks in for most of them; every twentieth builds with --no-cache. All 100
// processes are let go at once, at the top of a second (so the default
// tag's .Unix is the same for most);
// host slots keep the builds themselves to two at a time on this machine.
func TestHundredRunsInOneSecond(t *testing.T) {
	fig := newFigure(t, "100-runs-same-second")
	r := newRepo(t, map[string]string{"tiny": okWith("tiny")}, "")
	env := []string{"USER=crowd", "SLIPWAY_HOST_JOBS=2", "SLIPWAY_HOST_SLOTS_DIR=" + t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	flock, err := exec.LookPath("flock")
	if err != nil {
		t.Fatalf("flock (util-linux) is needed: %v", err)
	}
	// One build first, so the crowd has something to reuse.
	if res := r.slipway(ctx, env, "build", "--progress", "quiet"); res.Code != 0 {
		t.Fatalf("first build: %s", res)
	}

	const n = 100
	type started struct {
		cmd    *exec.Cmd
		meta   string
		so, se *bytes.Buffer
		at     time.Time
	}
	// A gate: each run waits for a shared lock the test holds exclusively,
	// so all 100 are already started, and are let go at once.
	gate := filepath.Join(t.TempDir(), "gate")
	g, err := os.Create(gate)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := syscall.Flock(int(g.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	runs := make([]started, n)
	for i := range runs {
		args := []string{"build", "--progress", "quiet", "--jobs", "1"}
		if i%20 == 0 {
			args = append(args, "--no-cache")
		}
		cmd, meta := r.command(ctx, env, args...)
		cmd.Args = append([]string{"flock", "-s", gate}, cmd.Args...)
		cmd.Path = flock
		runs[i] = started{cmd: cmd, meta: meta, so: &bytes.Buffer{}, se: &bytes.Buffer{}}
		cmd.Stdout, cmd.Stderr = runs[i].so, runs[i].se
		runs[i].at = time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting run %d: %v", i, err)
		}
	}
	// Let go at the top of a second, so most land in the same one.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 20*time.Millisecond)))
	if err := syscall.Flock(int(g.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	released := time.Now()
	first := runs[0].at
	for i := range runs {
		runs[i].at = released
	}

	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = finish(t, runs[i].cmd, runs[i].so, runs[i].se, runs[i].meta, runs[i].at)
		}()
	}
	wg.Wait()

	failed, collisions, wrong := 0, 0, 0
	seconds := map[string]int{} // the tags' .Unix field -> runs

	owner := map[string]int{}
	statuses := map[string]int{}
	var slowest time.Duration
	for i, res := range results {
		slowest = max(slowest, res.Elapsed)
		s := res.Meta.Services["tiny"]
		if res.Code != 0 || s == nil || s.Image == "" {
			failed++
			if failed <= 3 {
				t.Errorf("run %d: %s", i, res)
			}
			continue
		}
		statuses[string(s.Status)]++
		if f := strings.Split(s.Tag, "-"); len(f) >= 4 {
			seconds[f[3]]++
		}
		if j, ok := owner[s.Image]; ok {
			collisions++
			t.Errorf("runs %d and %d both got %s", j, i, s.Image)
		}
		owner[s.Image] = i
		if id := imageID("", s.Image); id != s.ID {
			wrong++
			t.Errorf("run %d: %s names %s in the engine, the run recorded %s", i, s.Image, id, s.ID)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d runs failed", failed, n)
	}
	fig.add(n, failed, collisions+wrong)
	most := 0
	for _, c := range seconds {
		most = max(most, c)
	}
	t.Logf("runs per tag second: %v; released %s after the first start", seconds, released.Sub(first).Round(time.Millisecond))
	fig.note("%d collisions, %d refs naming another image, statuses %v, tags share %d second(s) (most in one: %d), slowest run %s",
		collisions, wrong, statuses, len(seconds), most, slowest.Round(time.Second))
}

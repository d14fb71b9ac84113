package faults

import (
	"bytes"
	"context"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// TestHundredRunsInOneSecond covers issue 10's "100 concurrent runs by the
// same user in the same second" (and the defect "each run within 24 h adds
// -2, -3…, and run 101 fails"): every run must succeed, every run's ref must
// be distinct, and every ref must name the image that run recorded. Reuse
// kicks in for most of them; every tenth builds with --no-cache. All 100
// processes start within one second (the default tag has one .Unix for all);
// host slots keep the builds themselves to two at a time on this machine.
func TestHundredRunsInOneSecond(t *testing.T) {
	fig := newFigure(t, "100-runs-same-second")
	r := newRepo(t, map[string]string{"tiny": okWith("tiny")}, "")
	env := []string{"USER=crowd", "SLIPWAY_HOST_JOBS=2", "SLIPWAY_HOST_SLOTS_DIR=" + t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
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
	runs := make([]started, n)
	for i := range runs {
		args := []string{"build", "--progress", "quiet", "--jobs", "1"}
		if i%10 == 0 {
			args = append(args, "--no-cache")
		}
		cmd, meta := r.command(ctx, env, args...)
		runs[i] = started{cmd: cmd, meta: meta, so: &bytes.Buffer{}, se: &bytes.Buffer{}}
		cmd.Stdout, cmd.Stderr = runs[i].so, runs[i].se
	}
	// Start at the top of a second so all land in it.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 20*time.Millisecond)))
	for i := range runs {
		runs[i].at = time.Now()
		if err := runs[i].cmd.Start(); err != nil {
			t.Fatalf("starting run %d: %v", i, err)
		}
	}
	seconds := map[int64]bool{}
	for _, s := range runs {
		seconds[s.at.Unix()] = true
	}
	t.Logf("%d runs started in %s, spanning %d distinct second(s)", n, runs[n-1].at.Sub(runs[0].at).Round(time.Millisecond), len(seconds))

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
		statuses[s.Status]++
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
	fig.note("%d collisions, %d refs naming another image, statuses %v, %d second(s), slowest run %s",
		collisions, wrong, statuses, len(seconds), slowest.Round(time.Second))
}

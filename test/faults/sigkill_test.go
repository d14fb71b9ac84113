package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/run"
)

// marked lists the processes whose environment holds mark (pid -> command
// line): every process slipway started inherits it, even one re-parented
// after slipway died.
func marked(mark string) map[int]string {
	out := map[int]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, []byte(mark)) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out[pid] = strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
	}
	return out
}

// readRecord reads run id's record from state, tolerating a missing one.
func readRecord(state, id string) (run.Record, bool) {
	var rec run.Record
	b, err := os.ReadFile(filepath.Join(state, "runs", id, "run.json"))
	if err != nil || json.Unmarshal(b, &rec) != nil {
		return rec, false
	}
	return rec, true
}

// onlyRun is the ID of the single run under state ("" while there is none).
func onlyRun(state string) string {
	ents, _ := os.ReadDir(filepath.Join(state, "runs"))
	for _, e := range ents {
		if e.IsDir() {
			return e.Name()
		}
	}
	return ""
}

// TestSIGKILLThenClean covers issue 10's "SIGKILL slipway mid-run, then
// clean it": the whole process group is killed while one service is built
// and another is building; no build process may outlive it (the builders
// run in their own process groups, so only slipway's care stops them; a
// second try kills slipway alone, as the OOM killer does), and
// `clean --run` then removes every image the run made and nothing else:
// another user's image of the same service and a foreign image stay.
func TestSIGKILLThenClean(t *testing.T) {
	// Mostly waiting (or on its own daemon): it runs beside the other
	// light scenarios, not beside the CPU-bound ones, which are serial.
	t.Parallel()
	fig := newFigure(t, "sigkill-then-clean")
	r := newRepo(t, map[string]string{
		"quick": okWith("quick"),
		"slow":  "FROM " + BaseImage + "\nRUN echo slow-start && sleep 40 && echo slow > /msg\n",
	}, "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Images that must survive: another user's build of the same repo, and
	// an image slipway never made.
	other := r.slipway(ctx, []string{"USER=bystander"}, "build", "quick", "--progress", "quiet")
	if other.Code != 0 {
		t.Fatalf("bystander build: %s", other)
	}
	keep := []string{other.Meta.Services["quick"].Image}
	foreign := "localhost/" + r.Project + "-foreign:keep"
	docker(t, "", "tag", BaseImage, foreign)
	t.Cleanup(func() { dockerCmd("", "rmi", foreign).Run() })
	keep = append(keep, foreign)

	const tries = 2
	for try := range tries {
		state := t.TempDir()
		mark := fmt.Sprintf("SLIPWAY_FAULT_MARK=sigkill-%d-%d", os.Getpid(), time.Now().UnixNano())
		cmd, _ := r.command(ctx, []string{"USER=victim", mark, "SLIPWAY_STATE_DIR=" + state},
			"build", "--no-cache", "--jobs", "2", "--progress", "plain")
		// Its own process group, as a shell job or CI step has; the test
		// kills the group.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waited := make(chan struct{})
		go func() { cmd.Wait(); close(waited) }()

		// Kill once quick is recorded built and slow's RUN has started.
		var id string
		ready := waitFor(90*time.Second, func() bool {
			if id = onlyRun(state); id == "" {
				return false
			}
			rec, ok := readRecord(state, id)
			logB, _ := os.ReadFile(filepath.Join(state, "runs", id, "logs", "slow.log"))
			return ok && rec.Services["quick"] != nil && rec.Services["quick"].Status == "built" &&
				bytes.Contains(logB, []byte("slow-start"))
		})
		procs := marked(mark)
		// Try 0 kills the whole group (a shell job, a CI step); try 1 only
		// slipway itself (the OOM killer's way), which its children must
		// notice on their own.
		how := "process group"
		if try%2 == 1 {
			how = "slipway only"
			syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		} else {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		<-waited
		if !ready {
			t.Fatalf("try %d: the run never reached the point to kill it (run %q)\nstderr:\n%s", try, id, se.String())
		}
		t.Logf("try %d: killed run %s (%s) with %d processes alive", try, id, how, len(procs))
		fig.note("try %d: %s SIGKILLed, %d processes alive", try, how, len(procs))

		lost := 0
		// Orphans: anything slipway started still running after a short wait.
		var left map[int]string
		waitFor(5*time.Second, func() bool { left = marked(mark); return len(left) == 0 })
		if len(left) > 0 {
			lost += len(left)
			t.Errorf("try %d: %d processes outlived the killed run (%s killed): %v", try, len(left), how, left)
			fig.note("try %d: %d orphans (%.80s)", try, len(left), firstValue(left))
			for pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}

		rec, _ := readRecord(state, id)
		var made []string
		for _, s := range rec.Services {
			if s.Image != "" && imageID("", s.Image) != "" {
				made = append(made, s.Image)
			}
		}
		runImgs := imagesLabelled(t, "", "dev.slipway.run="+id)
		clean := r.slipway(ctx, []string{"USER=victim", "SLIPWAY_STATE_DIR=" + state}, "clean", "--run", id)
		failed := 0
		if clean.Code != 0 {
			failed = 1
			t.Errorf("try %d: clean of the killed run: %s", try, clean)
		}
		for _, ref := range append(made, runImgs...) {
			if !strings.HasPrefix(ref, "<none>") && imageID("", ref) != "" {
				lost++
				t.Errorf("try %d: %s, made by the killed run, is still in the engine", try, ref)
			}
		}
		if left := imagesLabelled(t, "", "dev.slipway.run="+id); len(left) > 0 {
			t.Logf("try %d: images labelled with the run after clean (untagged content is the engine's to collect): %q", try, left)
		}
		for _, ref := range keep {
			if imageID("", ref) == "" {
				lost++
				t.Errorf("try %d: clean removed %s, which the killed run did not make", try, ref)
			}
		}
		if len(made) == 0 {
			failed = 1
			t.Errorf("try %d: the killed run had recorded no image (quick was built): %+v", try, rec)
		}
		fig.add(1, failed, lost)
	}
}

func firstValue(m map[int]string) string {
	for _, v := range m {
		return v
	}
	return ""
}

package faults

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/run"
)

// smallDisk mounts a tmpfs of size bytes at a fresh folder, unmounted when
// the test ends.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mounting a tmpfs (the suite runs as root): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("unmounting %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a filler file into dir's file system until leave bytes are
// free.
func fill(t *testing.T, dir string, leave int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for n := free - leave; n > 0; n -= int64(len(buf)) {
		if _, err := f.Write(buf[:min(int64(len(buf)), n)]); err != nil {
			break // full already
		}
	}
}

// untracked lists the project's images that no readable record under state
// names: a run that made them and then lost its record leaves them for
// nobody to clean.
func untracked(t *testing.T, state, project string) []string {
	t.Helper()
	recorded := map[string]bool{}
	runs, _ := filepath.Glob(filepath.Join(state, "runs", "*", "run.json"))
	for _, p := range runs {
		var rec run.Record
		if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &rec) == nil {
			for _, s := range rec.Services {
				recorded[s.Image] = true
			}
		}
	}
	var out []string
	for _, ref := range imagesLabelled(t, "", "dev.slipway.project="+project) {
		if !recorded[ref] && !strings.HasPrefix(ref, "<none>") {
			out = append(out, ref)
		}
	}
	return out
}

// TestFullDiskUnderState covers issue 10's "a full disk under the state
// folder" (and the defect "a log sink that errors kills the build with
// exited with status -1"): with the state folder full, or with room for the
// record but not the logs, a healthy build either fails with a clear error
// or succeeds without its logs; it never reports "status -1", and it leaves
// no half state (an image no record names, a temp file).
func TestFullDiskUnderState(t *testing.T) {
	// Mostly waiting (or on its own daemon): it runs beside the other
	// light scenarios, not beside the CPU-bound ones, which are serial.
	t.Parallel()
	fig := newFigure(t, "full-disk-under-state")
	noisy := "FROM " + BaseImage + "\nRUN for i in $(seq 1 30000); do echo \"line $i of a long build log that fills the state disk\"; done && echo ok > /msg\n"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	for _, c := range []struct {
		name  string
		leave int64
	}{
		{"no-room", 0},
		{"room-for-record-not-logs", 48 << 10},
	} {
		r := newRepo(t, map[string]string{"noisy": noisy}, "")
		r.State = smallDisk(t, "2m")
		fill(t, r.State, c.leave)
		meta := filepath.Join(t.TempDir(), "meta.json")
		res := r.slipway(ctx, []string{"USER=diskfull"}, "build", "--no-cache", "--progress", "plain", "--metadata-file", meta)
		failed, lost := 0, 0
		out := res.Stdout + res.Stderr
		switch {
		case strings.Contains(out, "status -1"):
			failed = 1
			t.Errorf("%s: a healthy build reported status -1: %s", c.name, res)
		case res.Code != 0 && !strings.Contains(strings.ToLower(out), "no space"):
			failed = 1
			t.Errorf("%s: failed without saying the disk is full: %s", c.name, res)
		}
		if left := untracked(t, r.State, r.Project); len(left) > 0 {
			lost += len(left)
			t.Errorf("%s: images no record names (nobody can clean them): %q", c.name, left)
		}
		temps, _ := filepath.Glob(filepath.Join(r.State, "runs", "*", ".run.json.*"))
		if len(temps) > 0 {
			lost += len(temps)
			t.Errorf("%s: half-written records left: %q", c.name, temps)
		}
		if res.Code == 0 {
			if s := res.Meta.Services["noisy"]; s == nil || imageID("", s.Image) != s.ID {
				failed = 1
				t.Errorf("%s: exit 0 but the metadata names no image in the engine: %+v", c.name, res.Meta)
			}
		}
		fig.add(1, failed, lost)
		if failed+lost > 0 {
			fig.note("%s: exit %d %.100s", c.name, res.Code, lastLine(res.Stderr))
		} else {
			fig.note("%s: exit %d", c.name, res.Code)
		}
		t.Logf("%s: exit %d, last lines:\n%s", c.name, res.Code, lastLines(res.Stderr, 4))
	}
}

package faults

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCorruptRecord covers issue 10's "a corrupt or truncated run.json":
// with a truncated record, an empty one and one that is not JSON at all in
// the state folder, `ls`, `clean`, `prune`, `load SERVICE` and `build` still
// work, or fail with an error that names the bad file; the good run's images
// are neither lost nor left unlisted.
func TestCorruptRecord(t *testing.T) {
	// Mostly waiting (or on its own daemon): it runs beside the other
	// light scenarios, not beside the CPU-bound ones, which are serial.
	t.Parallel()
	fig := newFigure(t, "corrupt-run.json")
	cluster, nodes := kindNodes(t, "", 0)
	r := newRepo(t, map[string]string{"svc": okWith("corrupt")}, "")
	env := []string{"USER=corrupt"}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	good := r.slipway(ctx, env, "build", "--progress", "quiet")
	if good.Code != 0 || good.Meta.Services["svc"] == nil {
		t.Fatalf("first build: %s", good)
	}
	ref := good.Meta.Services["svc"].Image
	goodFile := filepath.Join(r.State, "runs", good.Meta.Run, "run.json")
	body, err := os.ReadFile(goodFile)
	if err != nil {
		t.Fatal(err)
	}

	// Bad records named to sort after the good one (newest first), so every
	// command that looks for "the last run" meets them first.
	bad := map[string][]byte{
		"29991231T235957-aaaaaa": body[:len(body)/2], // truncated mid-write
		"29991231T235958-bbbbbb": nil,                // empty
		"29991231T235959-cccccc": []byte("\x00\x01 not json {{{"),
	}
	var badFiles []string
	for id, b := range bad {
		p := filepath.Join(r.State, "runs", id, "run.json")
		writeFile(t, p, string(b))
		badFiles = append(badFiles, p)
	}
	// namesBadFile: an error that points the user at the file to fix (its
	// path, not only the run ID: the user has to find it to delete it).
	namesBadFile := func(s string) bool {
		for _, p := range badFiles {
			if strings.Contains(s, p) {
				return true
			}
		}
		return false
	}

	type step struct {
		name string
		args []string
		// ok checks a successful run's outcome.
		ok func(res result) string
	}
	steps := []step{
		// Scoped to this test's cluster: other clusters on the host are not
		// this scenario's business.
		{"ls", []string{"ls", "--kind", cluster}, func(res result) string {
			if !strings.Contains(res.Stdout, good.Meta.Run) && !strings.Contains(res.Stdout, ref) {
				return "the good run is not listed"
			}
			return ""
		}},
		{"clean-truncated", []string{"clean", "--run", "29991231T235957-aaaaaa"}, nil},
		{"clean-last", []string{"clean", "--last", "--dry-run"}, nil},
		{"prune", []string{"prune", "--older-than", "0s", "--dry-run"}, func(res result) string {
			if !strings.Contains(res.Stdout, ref) {
				return "prune would not remove the good run's image " + ref
			}
			return ""
		}},
		{"load", []string{"load", "--cluster", cluster, "svc"}, func(res result) string {
			if id := nodeImageID("", nodes[0], ref); id != good.Meta.Services["svc"].ID {
				return "the node holds " + ref + " as " + id + ", want " + good.Meta.Services["svc"].ID
			}
			return ""
		}},
		{"build", []string{"build", "--progress", "quiet"}, func(res result) string {
			if res.Meta.Services["svc"] == nil || imageID("", res.Meta.Services["svc"].Image) == "" {
				return "the build made no image"
			}
			return ""
		}},
	}
	for _, s := range steps {
		res := r.slipway(ctx, env, s.args...)
		failed := 0
		switch {
		case ctx.Err() != nil:
			failed = 1
			t.Errorf("%s: hung: %s", s.name, res)
		case res.Code == 0 && s.ok != nil:
			if msg := s.ok(res); msg != "" {
				failed = 1
				t.Errorf("%s: exit 0 but %s\n%s", s.name, msg, res)
			}
		case res.Code == 0 && s.name == "clean-truncated":
			// Cleaning a run whose record is unreadable can only be a no-op;
			// it must say why rather than claim success silently.
			if !namesBadFile(res.Stdout + res.Stderr) {
				failed = 1
				t.Errorf("%s: exit 0 without naming the unreadable record\n%s", s.name, res)
			}
		case res.Code != 0:
			if !namesBadFile(res.Stderr) || strings.Count(strings.TrimSpace(res.Stderr), "\n") > 3 {
				failed = 1
				t.Errorf("%s: failed without a clear error naming the bad record:\n%s", s.name, res)
			}
		}
		fig.add(1, failed, 0)
		if failed > 0 {
			fig.note("%s: exit %d %.100s", s.name, res.Code, lastLine(res.Stderr))
		}
		t.Logf("%s: exit %d: %.200s", s.name, res.Code, strings.TrimSpace(res.Stderr))
	}
	// Nothing the good run made was lost along the way.
	if imageID("", ref) == "" {
		fig.add(0, 0, 1)
		t.Errorf("the good run's %s is gone from the engine", ref)
	}
}

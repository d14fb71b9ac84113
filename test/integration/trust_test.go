package integration

// Issue 10, "Ownership": what a run removes is only what its own record
// says it named; every test here failed before ownership moved from image
// labels to run records.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startBuild runs `slipway build args…` in the background and returns once
// the run's record shows every service in done (built or reused), so the
// run is live and has named what the test looks at; the returned stop
// kills it.
func (r *repo) startBuild(t *testing.T, done []string, args ...string) (runID string, stop func()) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"build", "--progress", "plain"}, args...)...)
	cmd.Dir = r.Dir
	cmd.Env = append(os.Environ(), "SLIPWAY_STATE_DIR="+r.State)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop = func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		cmd.Wait()
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		for _, rec := range r.runs() {
			if rec.Ended != nil {
				continue
			}
			ok := true
			for _, s := range done {
				st := rec.Services[s]
				ok = ok && st != nil && st.ID != "" && (st.Status == "built" || st.Status == "reused")
			}
			if ok {
				return rec.Run, stop
			}
		}
	}
	t.Fatalf("the background run never built %v", done)
	return "", nil
}

// Defect: a reused image keeps the first run's dev.slipway.run label, so
// cleaning run A removed run B's re-tagged ref, from the engine and from
// Kind nodes, even while B was running.
func TestCleanLeavesRunningReusersRefs(t *testing.T) {
	cluster, nodes := newCluster(t)
	r := newRepo(t, map[string]string{
		"alpha": okWith("alpha"),
		"slow":  "FROM " + BaseImage + "\nRUN sleep 60\n",
	}, "")
	a := r.slipway(context.Background(), nil, "build", "--kind", "--cluster="+cluster, "--progress", "plain", "alpha")
	if a.Code != 0 {
		t.Fatalf("run A: exit %d\n%s", a.Code, a.Stderr)
	}
	// Run B reuses alpha (re-tag in the engine and on the nodes) and stays
	// running on its slow service.
	_, stop := r.startBuild(t, []string{"alpha"}, "--kind", "--cluster="+cluster)
	var bRef string
	for _, rec := range r.runs() {
		if rec.Run != a.Meta.Run && rec.Services["alpha"] != nil {
			bRef = rec.Services["alpha"].Image
			if rec.Services["alpha"].Status != "reused" {
				t.Fatalf("run B did not reuse alpha: %+v", rec.Services["alpha"])
			}
		}
	}
	// Wait for B's load of alpha to reach the nodes.
	deadline := time.Now().Add(time.Minute)
	for !(nodeHas(nodes[0], bRef) && nodeHas(nodes[1], bRef)) {
		if time.Now().After(deadline) {
			t.Fatalf("run B never loaded %s", bRef)
		}
		time.Sleep(300 * time.Millisecond)
	}
	clean := r.slipway(context.Background(), nil, "clean", "--run", a.Meta.Run)
	if clean.Code != 0 {
		t.Fatalf("clean A: exit %d\n%s%s", clean.Code, clean.Stdout, clean.Stderr)
	}
	aRef := a.Meta.Services["alpha"].Image
	if engineHas(aRef) {
		t.Errorf("clean A left A's own ref %s", aRef)
	}
	if !engineHas(bRef) {
		t.Errorf("clean A removed running run B's ref %s from the engine:\n%s", bRef, clean.Stdout)
	}
	for _, n := range nodes {
		if !nodeHas(n, bRef) {
			t.Errorf("clean A removed running run B's ref %s from %s", bRef, n)
		}
	}
	stop()
}

// Defect: --reuse TAG recorded the shared tag as this run's image, so
// clean / --cleanup / Result.Clean untagged somebody else's CI image.
func TestReuseTagIsBorrowedNeverRemoved(t *testing.T) {
	r := newRepo(t, map[string]string{"alpha": okWith("alpha")}, "")
	ci := r.slipway(context.Background(), nil, "build", "--tag", "ci-shared", "--progress", "quiet")
	if ci.Code != 0 {
		t.Fatalf("CI build: exit %d\n%s", ci.Code, ci.Stderr)
	}
	shared := ci.Meta.Services["alpha"].Image
	// Another state folder: another job or developer borrowing CI's image.
	r2 := *r
	r2.State = t.TempDir()
	b := r2.slipway(context.Background(), nil, "build", "--reuse", "ci-shared", "--progress", "quiet")
	if b.Code != 0 || b.Meta.Services["alpha"].Image != shared || !b.Meta.Services["alpha"].Borrowed {
		t.Fatalf("borrowing build: exit %d %+v\n%s", b.Code, b.Meta.Services["alpha"], b.Stderr)
	}
	clean := r2.slipway(context.Background(), nil, "clean", "--run", b.Meta.Run)
	if clean.Code != 0 {
		t.Fatalf("clean: exit %d\n%s", clean.Code, clean.Stderr)
	}
	if !engineHas(shared) {
		t.Fatalf("cleaning the borrowing run removed the shared image %s:\n%s", shared, clean.Stdout)
	}
}

// Defect: prune --older-than aged a ref by the image's creation label,
// which a fresh re-tag inherits; and prune took no notice of running runs.
func TestPruneAgesNamesByTaggingAndSkipsLiveRuns(t *testing.T) {
	r := newRepo(t, map[string]string{
		"alpha": okWith("alpha"),
		"slow":  "FROM " + BaseImage + "\nRUN sleep 60\n",
	}, "")
	a := r.slipway(context.Background(), nil, "build", "--progress", "quiet", "alpha")
	if a.Code != 0 {
		t.Fatalf("run A: exit %d\n%s", a.Code, a.Stderr)
	}
	time.Sleep(4 * time.Second)
	b := r.slipway(context.Background(), nil, "build", "--progress", "quiet", "alpha")
	if b.Code != 0 || b.Meta.Services["alpha"].Status != "reused" {
		t.Fatalf("run B: exit %d %+v\n%s", b.Code, b.Meta.Services["alpha"], b.Stderr)
	}
	aRef, bRef := a.Meta.Services["alpha"].Image, b.Meta.Services["alpha"].Image
	prune := r.slipway(context.Background(), nil, "prune", "--older-than", "3s", "--project", r.Project)
	if prune.Code != 0 {
		t.Fatalf("prune: exit %d\n%s", prune.Code, prune.Stderr)
	}
	if engineHas(aRef) {
		t.Errorf("prune kept %s, named 4 s ago", aRef)
	}
	if !engineHas(bRef) {
		t.Errorf("prune removed %s, named just now (its image is older)", bRef)
	}

	// A running run's names stay, whatever their age.
	_, stop := r.startBuild(t, []string{"alpha"})
	var live string
	for _, rec := range r.runs() {
		if rec.Ended == nil && rec.Services["alpha"] != nil {
			live = rec.Services["alpha"].Image
		}
	}
	prune = r.slipway(context.Background(), nil, "prune", "--older-than", "0s", "--project", r.Project)
	if !engineHas(live) {
		t.Errorf("prune removed %s of a running run:\n%s", live, prune.Stdout)
	}
	stop()
}

// Defect: with a tag template without .Unix every run within 24 h added
// -2, -3…, run 101 failed, and reservations outlived clean.
func TestStableTagTemplateKeepsItsTag(t *testing.T) {
	r := newRepo(t, map[string]string{"alpha": okWith("alpha")}, "tag: \"{{.Service}}-{{.GitShort}}\"\n")
	var first string
	for i := 0; i < 3; i++ {
		res := r.slipway(context.Background(), nil, "build", "--progress", "quiet")
		if res.Code != 0 {
			t.Fatalf("run %d: exit %d\n%s", i, res.Code, res.Stderr)
		}
		ref := res.Meta.Services["alpha"].Image
		if first == "" {
			first = ref
		} else if ref != first {
			t.Fatalf("run %d tagged %s, want the stable %s", i, ref, first)
		}
	}
	// Cleaning an older run leaves the name the newest run gave.
	runs := r.runs()
	oldest := runs[0].Run // runs() lists oldest first
	if res := r.slipway(context.Background(), nil, "clean", "--run", oldest); res.Code != 0 || !engineHas(first) {
		t.Fatalf("clean of an older run removed the newest run's %s: exit %d\n%s%s", first, res.Code, res.Stdout, res.Stderr)
	}
	// Prune clears run folders and reservations of old runs.
	time.Sleep(1100 * time.Millisecond)
	res := r.slipway(context.Background(), nil, "prune", "--older-than", "1s", "--project", r.Project)
	if res.Code != 0 || engineHas(first) {
		t.Fatalf("prune: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if left := r.runs(); len(left) != 0 {
		t.Errorf("prune left %d run folders", len(left))
	}
	if ents, _ := os.ReadDir(filepath.Join(r.State, "reserved")); countFiles(ents) != 0 {
		t.Errorf("prune left %d reservations", countFiles(ents))
	}
}

func countFiles(ents []os.DirEntry) int {
	n := 0
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}

// Defect: Ctrl-C during engine detection exited 2 (as if the input were
// bad), not 130.
func TestInterruptDuringEngineDetectionExits130(t *testing.T) {
	r := newRepo(t, map[string]string{"alpha": okWith("alpha")}, "")
	// An engine CLI that hangs, as a stuck daemon socket does.
	fake := t.TempDir()
	script := "#!/bin/sh\nexec sleep 30\n"
	for _, name := range []string{"docker", "podman"} {
		if err := os.WriteFile(filepath.Join(fake, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "build", "--progress", "plain")
	cmd.Dir = r.Dir
	// No daemon at DOCKER_HOST: the API ping fails at once, so detection
	// falls to the (hanging) CLI probe this test interrupts.
	cmd.Env = append(os.Environ(), "SLIPWAY_STATE_DIR="+r.State, "PATH="+fake+":"+os.Getenv("PATH"), "DOCKER_HOST=unix:///nonexistent.sock")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 130 {
			t.Fatalf("Ctrl-C during engine detection: %v, want exit 130", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("Ctrl-C during engine detection did not stop slipway")
	}
}

// Defect: export passed a "reference" like --output=/path to the engine's
// save unchecked: the engine wrote elsewhere and export reported success
// with an empty archive.
func TestExportRefusesOptionLikeReferences(t *testing.T) {
	r := newRepo(t, map[string]string{"alpha": okWith("alpha")}, "")
	if b := r.slipway(context.Background(), nil, "build", "--progress", "quiet"); b.Code != 0 {
		t.Fatalf("build: exit %d\n%s", b.Code, b.Stderr)
	}
	out := filepath.Join(t.TempDir(), "images.tar")
	elsewhere := filepath.Join(t.TempDir(), "elsewhere.tar")
	res := r.slipway(context.Background(), nil, "export", "--archive", out, "--", "--output="+elsewhere)
	if res.Code != 2 {
		t.Errorf("export of an option-like reference: exit %d, want 2\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("export left %s", out)
	}
	if _, err := os.Stat(elsewhere); err == nil {
		t.Errorf("the engine wrote %s", elsewhere)
	}
	dir := t.TempDir()
	if res := r.slipway(context.Background(), nil, "export", "--archive", dir, "alpha"); res.Code != 2 {
		t.Errorf("export onto a folder: exit %d, want 2\n%s", res.Code, res.Stderr)
	}
}

// Defect: `slipway load SERVICE` looked the image up in Docker even when
// the run that built it used Podman (its record knows the engine).
func TestLoadServiceUsesTheEngineItsRunUsed(t *testing.T) {
	needPodman(t)
	cluster, nodes := newCluster(t)
	r := newRepo(t, map[string]string{"alpha": okWith("alpha-from-podman")}, "")
	b := r.slipway(context.Background(), nil, "build", "--engine", "podman", "--progress", "quiet")
	if b.Code != 0 {
		t.Fatalf("podman build: exit %d\n%s", b.Code, b.Stderr)
	}
	ref := b.Meta.Services["alpha"].Image
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", ref).Run() })
	if engineHas(ref) {
		t.Fatalf("%s is in Docker too; the test needs it in Podman only", ref)
	}
	load := r.slipway(context.Background(), nil, "load", "--cluster", cluster, "alpha")
	if load.Code != 0 {
		t.Fatalf("load alpha (built with podman): exit %d\n%s%s", load.Code, load.Stdout, load.Stderr)
	}
	for _, n := range nodes {
		if !nodeHas(n, ref) {
			t.Errorf("%s lacks %s", n, ref)
		}
	}
}

// Defect: build args (possibly secrets) showed in process lists, logs and
// run.json, and there was no way to pass a secret. A BuildKit secret's
// value reaches the RUN step that mounts it and nothing slipway writes.
func TestSecretsReachTheBuildNeverTheRecord(t *testing.T) {
	const value = "s3cr3t-value-for-the-test"
	// The Dockerfile checks the value by its hash, so that the value
	// itself appears nowhere but in the environment.
	sum := sha256.Sum256([]byte(value))
	df := "FROM " + BaseImage + "\nRUN --mount=type=secret,id=tok printf %s \"$(cat /run/secrets/tok)\" | sha256sum | grep -q " + hex.EncodeToString(sum[:]) + "\n"
	r := newRepo(t, map[string]string{"alpha": df}, "    secrets: [{id: tok, env: SLIPWAY_TEST_TOK}]\n")
	b := r.slipway(context.Background(), []string{"SLIPWAY_TEST_TOK=" + value}, "build", "--progress", "plain")
	if b.Code != 0 {
		t.Fatalf("build with a secret: exit %d\n%s", b.Code, b.Stderr)
	}
	if strings.Contains(b.Stdout+b.Stderr, value) {
		t.Error("the secret's value is in slipway's output")
	}
	err := filepath.Walk(r.State, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		if data, _ := os.ReadFile(p); strings.Contains(string(data), value) {
			t.Errorf("the secret's value is in %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

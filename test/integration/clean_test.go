package integration

import (
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

func engineHas(ref string) bool {
	return exec.Command("docker", "image", "inspect", ref).Run() == nil
}

func nodeHas(node, ref string) bool {
	return exec.Command("docker", "exec", node, "crictl", "inspecti", ref).Run() == nil
}

// runsIn checks that ref still runs, in the engine and on each node.
func runsIn(t *testing.T, ref string, nodes []string) {
	t.Helper()
	if out, err := exec.Command("docker", "run", "--rm", ref).CombinedOutput(); err != nil {
		t.Errorf("%s no longer runs in the engine: %v %s", ref, err, out)
	}
	for i, n := range nodes {
		name := "chk-" + strings.NewReplacer("/", "-", ":", "-", ".", "-").Replace(ref)
		if len(name) > 50 {
			name = name[len(name)-50:]
		}
		name = name + "-" + string(rune('a'+i))
		if out, err := exec.Command("docker", "exec", n, "ctr", "-n", "k8s.io", "run", "--rm", ref, strings.Trim(name, "-")).CombinedOutput(); err != nil {
			t.Errorf("%s no longer runs on %s: %v %s", ref, n, err, out)
		}
	}
}

func TestCleanRemovesOnlyItsOwnRun(t *testing.T) {
	cluster, nodes := newCluster(t)
	r := newRepo(t, map[string]string{"alpha": okWith("alpha"), "beta": okWith("beta")}, "")

	// A foreign image, not made by slipway, in the engine and on the nodes.
	foreign := "localhost/foreign-" + r.Project + ":keep"
	if err := exec.Command("docker", "build", "-q", "-t", foreign, "-f", filepath.Join(r.Dir, "alpha.Dockerfile"), r.Dir).Run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", foreign).Run() })
	if out, err := exec.Command("kind", "load", "docker-image", "--name", cluster, foreign).CombinedOutput(); err != nil {
		t.Fatalf("kind load: %v %s", err, out)
	}

	// Two users in parallel, then a second run of the same user.
	var wg sync.WaitGroup
	var alice1, bob result
	wg.Add(2)
	go func() {
		defer wg.Done()
		alice1 = r.slipway(context.Background(), []string{"USER=alice"}, "build", "--kind", "--cluster="+cluster, "--progress", "quiet")
	}()
	go func() {
		defer wg.Done()
		bob = r.slipway(context.Background(), []string{"USER=bob"}, "build", "--kind", "--cluster="+cluster, "--progress", "quiet")
	}()
	wg.Wait()
	alice2 := r.slipway(context.Background(), []string{"USER=alice"}, "build", "--kind", "--cluster="+cluster, "--progress", "quiet")
	for _, res := range []result{alice1, bob, alice2} {
		if res.Code != 0 {
			t.Fatalf("build: %s", res.Stderr)
		}
	}
	refs := func(res result) []string {
		return []string{res.Meta.Services["alpha"].Image, res.Meta.Services["beta"].Image}
	}
	keep := append(append(refs(alice1), refs(bob)...), foreign)

	// Dry run changes nothing and says what would go.
	dry := r.slipway(context.Background(), []string{"USER=alice"}, "clean", "--run", alice2.Meta.Run, "--dry-run")
	if dry.Code != 0 || countLines(dry.Stdout, "would remove ") != 6 {
		t.Fatalf("dry run: exit %d\n%s%s", dry.Code, dry.Stdout, dry.Stderr)
	}
	for _, ref := range refs(alice2) {
		if !engineHas(ref) || !nodeHas(nodes[0], ref) {
			t.Fatalf("dry run removed %s", ref)
		}
	}

	clean := r.slipway(context.Background(), []string{"USER=alice"}, "clean", "--run", alice2.Meta.Run)
	if clean.Code != 0 {
		t.Fatalf("clean: exit %d\n%s%s", clean.Code, clean.Stdout, clean.Stderr)
	}
	for _, ref := range refs(alice2) {
		if engineHas(ref) {
			t.Errorf("%s still in the engine", ref)
		}
		for _, n := range nodes {
			if nodeHas(n, ref) {
				t.Errorf("%s still on %s", ref, n)
			}
		}
	}
	for _, ref := range keep {
		if !engineHas(ref) {
			t.Errorf("clean removed foreign %s from the engine", ref)
		}
		for _, n := range nodes {
			if !nodeHas(n, ref) {
				t.Errorf("clean removed foreign %s from %s", ref, n)
			}
		}
	}
	runsIn(t, foreign, nodes)
	runsIn(t, refs(bob)[0], nodes)

	// Prune alice's images of every age: bob's and the foreign one stay.
	dry = r.slipway(context.Background(), []string{"USER=alice"}, "prune", "--older-than", "0s", "--cluster", cluster, "--dry-run")
	if dry.Code != 0 || countLines(dry.Stdout, "would remove ") < 6 || !engineHas(refs(alice1)[0]) {
		t.Fatalf("prune dry run: exit %d\n%s%s", dry.Code, dry.Stdout, dry.Stderr)
	}
	prune := r.slipway(context.Background(), []string{"USER=alice"}, "prune", "--older-than", "0s", "--cluster", cluster)
	if prune.Code != 0 {
		t.Fatalf("prune: exit %d\n%s%s", prune.Code, prune.Stdout, prune.Stderr)
	}
	for _, ref := range refs(alice1) {
		if engineHas(ref) || nodeHas(nodes[1], ref) {
			t.Errorf("prune left alice's %s", ref)
		}
	}
	for _, ref := range append(refs(bob), foreign) {
		if !engineHas(ref) || !nodeHas(nodes[0], ref) || !nodeHas(nodes[1], ref) {
			t.Errorf("prune removed %s", ref)
		}
	}
	runsIn(t, foreign, nodes)
	runsIn(t, refs(bob)[1], nodes)

	ls := r.slipway(context.Background(), []string{"USER=bob"}, "ls", "--cluster", cluster)
	if ls.Code != 0 || !strings.Contains(ls.Stdout, refs(bob)[0]) || !strings.Contains(ls.Stdout, "total engine") || strings.Contains(ls.Stdout, foreign) {
		t.Errorf("ls: exit %d\n%s%s", ls.Code, ls.Stdout, ls.Stderr)
	}
}

func TestPruneKeepsNewestAndInUse(t *testing.T) {
	r := newRepo(t, map[string]string{"alpha": okWith("alpha")}, "")
	var runs []result
	for i := 0; i < 3; i++ {
		// --no-cache: three distinct images, not one reused three times.
		res := r.slipway(context.Background(), []string{"USER=kim"}, "build", "--progress", "quiet", "--no-cache")
		if res.Code != 0 {
			t.Fatal(res.Stderr)
		}
		runs = append(runs, res)
	}
	oldest := runs[0].Meta.Services["alpha"].Image
	// A container made from the oldest image keeps it.
	name := "inuse-" + r.Project
	if out, err := exec.Command("docker", "create", "--name", name, oldest).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
	res := r.slipway(context.Background(), []string{"USER=kim"}, "prune", "--older-than", "0s", "--keep", "1")
	if res.Code != 0 || !strings.Contains(res.Stdout, "kept (in use by a container)") {
		t.Fatalf("prune: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if !engineHas(oldest) || engineHas(runs[1].Meta.Services["alpha"].Image) || !engineHas(runs[2].Meta.Services["alpha"].Image) {
		t.Fatalf("wrong images removed:\n%s", res.Stdout)
	}
}

func TestBuildCleanupKeepsOnlyTheNodeCopy(t *testing.T) {
	cluster, nodes := newCluster(t)
	r := newRepo(t, map[string]string{"alpha": okWith("alpha")}, "")
	res := r.slipway(context.Background(), nil, "build", "--kind", "--cluster="+cluster, "--cleanup", "--progress", "quiet")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	ref := res.Meta.Services["alpha"].Image
	if engineHas(ref) {
		t.Error("--cleanup left the engine's copy")
	}
	for _, n := range nodes {
		if !nodeHas(n, ref) {
			t.Errorf("image missing on %s", n)
		}
	}
	bad := r.slipway(context.Background(), nil, "build", "--cleanup")
	if bad.Code != 2 {
		t.Errorf("--cleanup without --kind: exit %d", bad.Code)
	}
}

func TestCleanInProgressAndKilledRun(t *testing.T) {
	r := newRepo(t, map[string]string{
		"quick": okWith("quick"),
		"slow":  "FROM " + BaseImage + "\nRUN sleep 120\n",
	}, "")
	cmd := exec.Command(bin, "build", "--progress", "plain", "--no-cache")
	cmd.Dir = r.Dir
	cmd.Env = append(os.Environ(), "SLIPWAY_STATE_DIR="+r.State)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Wait until the quick image is built and recorded.
	var runID string
	deadline := time.Now().Add(90 * time.Second)
	for runID == "" {
		if time.Now().After(deadline) {
			t.Fatal("quick build never recorded")
		}
		time.Sleep(300 * time.Millisecond)
		ents, _ := os.ReadDir(filepath.Join(r.State, "runs"))
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(r.State, "runs", e.Name(), "run.json"))
			if strings.Contains(string(b), `"status": "built"`) {
				runID = e.Name()
			}
		}
	}
	res := r.slipway(context.Background(), nil, "clean", "--run", runID)
	if res.Code != 2 || !strings.Contains(res.Stderr, "in progress") {
		t.Fatalf("clean of a running run: exit %d %s", res.Code, res.Stderr)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	time.Sleep(time.Second)
	res = r.slipway(context.Background(), nil, "clean", "--run", runID)
	if res.Code != 0 || !strings.Contains(res.Stdout, "removed engine") {
		t.Fatalf("clean after SIGKILL: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if left := processesMatching("sleep 120"); len(left) > 0 {
		t.Errorf("killed run left build processes: %v", left)
	}
}

func TestCleanBadInput(t *testing.T) {
	r := newRepo(t, map[string]string{"alpha": okWith("alpha")}, "")
	built := r.slipway(context.Background(), nil, "build", "--progress", "quiet")
	ref := built.Meta.Services["alpha"].Image
	cases := [][]string{
		{"clean", "--run", "20990101T000000-nosuch"},
		{"prune", "--older-than", "-1h"},
		{"prune", "--older-than", "yesterday"},
		{"prune", "--older-than", "1h", "--cluster", "no-such-cluster"},
		{"clean", "--cluster", "no-such-cluster"},
	}
	for _, args := range cases {
		res := r.slipway(context.Background(), nil, args...)
		if res.Code != 2 || strings.Count(strings.TrimSpace(res.Stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q", args, res.Code, res.Stderr)
		}
	}
	if !engineHas(ref) {
		t.Fatal("bad input removed an image")
	}
}

// countLines counts the lines that start with prefix.
func countLines(s, prefix string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

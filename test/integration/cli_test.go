package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The CLI a developer lives in (issue 13): version, doctor, runs, the
// build summary, completion, init and exit codes, through the real binary
// against the real engine and Kind-shaped nodes.

// TestCLIVersion builds the binary as a user would from a clone (with VCS
// stamping) and checks what --version and version --all say.
func TestCLIVersion(t *testing.T) {
	needEngine(t)
	stamped := filepath.Join(t.TempDir(), "slipway")
	cmd := exec.Command("go", "build", "-buildvcs=true", "-o", stamped, "./cmd/slipway")
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	head, err := exec.Command("git", "-C", repoRoot(), "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse: %v", err)
	}
	res := runCmd(t, exec.Command(stamped, "--version"))
	if res.Code != 0 || !strings.Contains(res.Stdout, "commit "+strings.TrimSpace(string(head))[:12]) || !strings.Contains(res.Stdout, "go1.") {
		t.Errorf("--version: exit %d, %q (HEAD %s)", res.Code, res.Stdout, head)
	}
	res = runCmd(t, exec.Command(stamped, "version", "--all", "-o", "json"))
	var v struct {
		Version, Commit, Go string
		KindLibrary         string `json:"kind_library"`
		Tools               struct {
			Engine, Buildx, Kind struct{ Name, Version, Server, Error string }
		}
	}
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &v) != nil {
		t.Fatalf("version --all -o json: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if v.Commit == "" || v.KindLibrary == "" || v.Tools.Engine.Version == "" || v.Tools.Kind.Version == "" {
		t.Errorf("version --all: %+v", v)
	}
	if v.Tools.Engine.Name == "docker" && (v.Tools.Engine.Server == "" || v.Tools.Buildx.Version == "") {
		t.Errorf("docker without server or buildx version: %+v", v.Tools)
	}
	res = runCmd(t, exec.Command(stamped, "version", "--all"))
	for _, want := range []string{"slipway ", "commit:", "buildx:", "kind:"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("version --all lacks %q:\n%s", want, res.Stdout)
		}
	}
}

// TestCLIDoctor checks doctor against the engine and a Kind-shaped
// cluster: node facts from inside the nodes, a clean exit, and a blocking
// problem (a cluster that does not exist) with its fix and exit 1.
func TestCLIDoctor(t *testing.T) {
	cluster, nodes := newCluster(t)
	r := &repo{t: t, Dir: t.TempDir(), State: t.TempDir()}
	res := r.slipway(context.Background(), nil, "doctor", "-o", "json", "--cluster", cluster)
	var d struct {
		Engine struct {
			Name      string
			Reachable bool
		}
		Buildx struct {
			Version  string
			Builders []struct{ Name string }
		}
		Kind struct {
			Clusters []struct {
				Name, Provider string
				Nodes          []struct {
					Name, Containerd, Snapshotter string
					LayerAware                    bool `json:"layer_aware"`
					Loadable                      bool
				}
			}
		}
		State struct {
			Dir      string
			Writable bool
		}
		Images   struct{ Known bool }
		Problems []struct{ Severity, Message, Fix string }
	}
	if err := json.Unmarshal([]byte(res.Stdout), &d); err != nil {
		t.Fatalf("doctor -o json: exit %d, %v\n%s%s", res.Code, err, res.Stdout, res.Stderr)
	}
	if res.Code != 0 {
		t.Errorf("doctor: exit %d with problems %+v", res.Code, d.Problems)
	}
	if !d.Engine.Reachable || d.State.Dir != r.State || !d.State.Writable || !d.Images.Known {
		t.Errorf("doctor: %+v", d)
	}
	if d.Engine.Name == "docker" && (d.Buildx.Version == "" || len(d.Buildx.Builders) == 0) {
		t.Errorf("buildx: %+v", d.Buildx)
	}
	if len(d.Kind.Clusters) != 1 || d.Kind.Clusters[0].Name != cluster || len(d.Kind.Clusters[0].Nodes) != len(nodes) {
		t.Fatalf("clusters: %+v", d.Kind.Clusters)
	}
	for _, n := range d.Kind.Clusters[0].Nodes {
		if n.Containerd == "" || n.Snapshotter == "" || !n.LayerAware || !n.Loadable {
			t.Errorf("node %+v", n)
		}
	}
	text := r.slipway(context.Background(), nil, "doctor", "--cluster", cluster)
	for _, want := range []string{"engine ", "cluster " + cluster, "containerd ", "layer-aware loads", "state "} {
		if !strings.Contains(text.Stdout, want) {
			t.Errorf("doctor text lacks %q:\n%s", want, text.Stdout)
		}
	}

	// Completion offers the cluster as load finds it.
	comp := r.slipway(context.Background(), nil, "__complete", "load", "--cluster", "")
	if !strings.Contains(comp.Stdout, cluster+"\t") {
		t.Errorf("cluster completion lacks %s:\n%s", cluster, comp.Stdout)
	}

	bad := r.slipway(context.Background(), nil, "doctor", "--cluster", "no-such-cluster")
	if bad.Code != 1 || !strings.Contains(bad.Stdout, `blocker: kind: Kind cluster no-such-cluster`) || !strings.Contains(bad.Stdout, "fix: ") {
		t.Errorf("doctor with a missing cluster: exit %d\n%s%s", bad.Code, bad.Stdout, bad.Stderr)
	}
}

// TestCLIBuildSummaryRunsAndClean builds twice (the second reuses), checks
// the summary line, lists the runs, cleans the newest and sees it listed
// as cleaned.
func TestCLIBuildSummaryRunsAndClean(t *testing.T) {
	r := newRepo(t, map[string]string{
		"alpha": "FROM " + BaseImage + "\nRUN echo alpha > /alpha\n",
		"beta":  "FROM " + BaseImage + "\nRUN echo beta > /beta\n",
	}, "")
	ctx := context.Background()
	first := r.slipway(ctx, nil, "build", "--progress", "quiet")
	if first.Code != 0 || !strings.Contains(first.Stdout, "wall ") || !strings.Contains(first.Stdout, "build time ") {
		t.Fatalf("first build: exit %d\n%s%s", first.Code, first.Stdout, first.Stderr)
	}
	second := r.slipway(ctx, nil, "build", "--progress", "quiet")
	if second.Code != 0 || !strings.Contains(second.Stdout, "2 reused saving ") {
		t.Fatalf("second build: exit %d\n%s%s", second.Code, second.Stdout, second.Stderr)
	}

	type runInfo struct {
		Run      string
		User     string
		Status   string
		Services []string
		Built    int
		Reused   int
		Images   *int
		Cleaned  bool
	}
	list := func() []runInfo {
		res := r.slipway(ctx, nil, "runs", "-o", "json", "--project", r.Project)
		var rs []runInfo
		if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &rs) != nil {
			t.Fatalf("runs -o json: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
		}
		return rs
	}
	rs := list()
	if len(rs) != 2 || rs[0].Run != second.Meta.Run || rs[0].Reused != 2 || rs[1].Built != 2 || rs[0].Status != "done" ||
		rs[0].Images == nil || *rs[0].Images != 2 || rs[0].Cleaned || len(rs[0].Services) != 2 {
		t.Fatalf("runs: %+v", rs)
	}
	table := r.slipway(ctx, nil, "runs")
	if !strings.Contains(table.Stdout, second.Meta.Run) || !strings.Contains(table.Stdout, "2 in engine") {
		t.Errorf("runs table:\n%s", table.Stdout)
	}

	archive := filepath.Join(t.TempDir(), "images.tar")
	exp := r.slipway(ctx, nil, "export", "--archive", archive, "-o", "json", "alpha")
	var e struct {
		Archive string
		Images  []string
	}
	if exp.Code != 0 || json.Unmarshal([]byte(exp.Stdout), &e) != nil || e.Archive != archive || len(e.Images) != 1 {
		t.Errorf("export --archive -o json: exit %d\n%s%s", exp.Code, exp.Stdout, exp.Stderr)
	}
	old := r.slipway(ctx, nil, "export", "-o", archive, "alpha")
	if old.Code != 0 || !strings.Contains(old.Stderr, "deprecated") || !strings.Contains(old.Stdout, "exported ") {
		t.Errorf("export -o FILE (old spelling): exit %d\n%s%s", old.Code, old.Stdout, old.Stderr)
	}

	dry := r.slipway(ctx, nil, "clean", "--dry-run", "-o", "json")
	var removal struct {
		DryRun  bool `json:"dry_run"`
		Removed []struct{ Ref, Run string }
	}
	if dry.Code != 0 || json.Unmarshal([]byte(dry.Stdout), &removal) != nil || !removal.DryRun || len(removal.Removed) != 2 || removal.Removed[0].Run != second.Meta.Run {
		t.Fatalf("clean --dry-run -o json: exit %d\n%s%s", dry.Code, dry.Stdout, dry.Stderr)
	}
	if c := r.slipway(ctx, nil, "clean"); c.Code != 0 {
		t.Fatalf("clean: exit %d\n%s%s", c.Code, c.Stdout, c.Stderr)
	}
	rs = list()
	if !rs[0].Cleaned || *rs[0].Images != 0 || rs[1].Cleaned || *rs[1].Images != 2 {
		t.Errorf("after clean: %+v", rs)
	}

	ls := r.slipway(ctx, nil, "ls", "-o", "json")
	var copies []struct{ Ref, Project, Place string }
	if ls.Code != 0 || json.Unmarshal([]byte(ls.Stdout), &copies) != nil {
		t.Fatalf("ls -o json: exit %d\n%s%s", ls.Code, ls.Stdout, ls.Stderr)
	}
	n := 0
	for _, c := range copies {
		if c.Project == r.Project {
			n++
		}
	}
	if n != 2 {
		t.Errorf("ls -o json lists %d of the project's names, want the first run's 2", n)
	}

}

// TestCLIUsageExitCodes: the binary exits 2 on every usage error cobra or
// a command finds, and build --kind NAME says how to name a cluster now.
func TestCLIUsageExitCodes(t *testing.T) {
	r := newRepo(t, map[string]string{"alpha": "FROM " + BaseImage + "\n"}, "")
	for _, args := range [][]string{
		{"bogus"}, {"build", "--bogus"}, {"clean", "extra"}, {"import"}, {"config", "bogus"},
		{"build", "--kind", "fleet-test"}, {"runs", "-o", "xml"},
	} {
		res := r.slipway(context.Background(), nil, args...)
		if res.Code != 2 {
			t.Errorf("slipway %s: exit %d, want 2\n%s", strings.Join(args, " "), res.Code, res.Stderr)
		}
	}
	res := r.slipway(context.Background(), nil, "build", "--kind", "fleet-test")
	if !strings.Contains(res.Stderr, "--cluster fleet-test") {
		t.Errorf("build --kind fleet-test: %s", res.Stderr)
	}
}

// TestCLIInit proposes a config for the example repository through the
// binary and writes one for a copy of it, never over an existing file.
func TestCLIInit(t *testing.T) {
	r := &repo{t: t, Dir: t.TempDir(), State: t.TempDir()}
	fleet := filepath.Join(repoRoot(), "examples", "fleet")
	res := r.slipway(context.Background(), nil, "init", fleet, "-o", "json")
	var p struct {
		Project  string
		Services []struct{ Name, Dockerfile, Target string }
	}
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &p) != nil || p.Project != "fleet" || len(p.Services) != 8 {
		t.Fatalf("init fleet: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	for _, s := range p.Services {
		if s.Dockerfile != "docker/"+s.Name+".Dockerfile" || s.Target != "runtime" {
			t.Errorf("service %+v", s)
		}
	}
	os.WriteFile(filepath.Join(r.Dir, "Dockerfile"), []byte("FROM "+BaseImage+"\n"), 0o644)
	if w := r.slipway(context.Background(), nil, "init", "--write"); w.Code != 0 {
		t.Fatalf("init --write: exit %d\n%s", w.Code, w.Stderr)
	}
	if chk := r.slipway(context.Background(), nil, "config", "check"); chk.Code != 0 {
		t.Errorf("config check of the written file: exit %d\n%s%s", chk.Code, chk.Stdout, chk.Stderr)
	}
	if again := r.slipway(context.Background(), nil, "init", "--write"); again.Code != 2 {
		t.Errorf("init --write over a config: exit %d, want 2", again.Code)
	}
}

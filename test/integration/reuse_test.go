package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestReuseRebuildsExactlyWhatChanged(t *testing.T) {
	const df = "FROM %BASE%\nCOPY shared/ /shared/\nCOPY svc/%S%/ /svc/\nCMD [\"cat\", \"/svc/main.txt\"]\n"
	r := newRepo(t, map[string]string{"a": "", "b": ""}, "")
	base := "localhost/" + r.Project + "-base:1"
	if err := exec.Command("docker", "tag", BaseImage, base).Run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", base).Run() })
	write := func(p, c string) {
		t.Helper()
		full := filepath.Join(r.Dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"a", "b"} {
		write(s+".Dockerfile", strings.NewReplacer("%S%", s, "%BASE%", base).Replace(df))
		write("svc/"+s+"/main.txt", s)
	}
	write("shared/lib.txt", "v1")
	write(".dockerignore", "**/*.md\n")

	statuses := func(args ...string) map[string]string {
		t.Helper()
		res := r.slipway(context.Background(), nil, append([]string{"build", "--progress", "quiet"}, args...)...)
		if res.Code != 0 {
			t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
		}
		out := map[string]string{}
		for s, m := range res.Meta.Services {
			out[s] = string(m.Status)
			if m.Status == "reused" {
				if _, err := os.Stat(m.Log); err == nil {
					t.Errorf("%s reused but a build log exists: a build process ran", s)
				}
			}
			if !engineHas(m.Image) {
				t.Errorf("%s: %s not in the engine", s, m.Image)
			}
		}
		return out
	}
	expect := func(step string, got map[string]string, a, b string) {
		t.Helper()
		if got["a"] != a || got["b"] != b {
			t.Errorf("%s: a=%s b=%s, want a=%s b=%s", step, got["a"], got["b"], a, b)
		}
	}
	expect("first build", statuses(), "built", "built")
	expect("nothing changed", statuses(), "reused", "reused")
	write("svc/a/main.txt", "a changed")
	expect("a's file changed", statuses(), "built", "reused")
	write("shared/notes.md", "ignored by .dockerignore")
	write("unrelated.txt", "copied by nobody")
	os.WriteFile(filepath.Join(filepath.Dir(r.Dir), "outside.txt"), []byte("x"), 0o644)
	expect("ignored, uncopied and outside files", statuses(), "reused", "reused")
	write("shared/lib.txt", "v2")
	expect("shared file changed", statuses(), "built", "built")
	if err := exec.Command("docker", "tag", "slipway.local/base/python:3-bookworm", base).Run(); err != nil {
		t.Fatal(err)
	}
	expect("base image changed", statuses(), "built", "built")
	expect("--no-cache", statuses("--no-cache"), "built", "built")
}

func TestReusedImageIsRetaggedInKind(t *testing.T) {
	cluster, nodes := newCluster(t)
	r := newRepo(t, map[string]string{"alpha": okWith("alpha")}, "")
	first := r.slipway(context.Background(), nil, "build", "--kind", "--cluster="+cluster, "--progress", "quiet")
	second := r.slipway(context.Background(), nil, "build", "--kind", "--cluster="+cluster, "--progress", "quiet")
	if first.Code != 0 || second.Code != 0 {
		t.Fatalf("%s\n%s", first.Stderr, second.Stderr)
	}
	m := second.Meta.Services["alpha"]
	if m.Status != "reused" || m.ID != first.Meta.Services["alpha"].ID {
		t.Fatalf("second run: %+v", m)
	}
	for _, n := range nodes {
		if m.Kind.Nodes[n] != "retagged" {
			t.Errorf("%s: %q, want retagged", n, m.Kind.Nodes[n])
		}
		if !nodeHas(n, m.Image) {
			t.Errorf("%s lacks %s", n, m.Image)
		}
	}
}

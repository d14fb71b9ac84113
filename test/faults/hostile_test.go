package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// dockerShim puts a `docker` first on PATH that logs each call's arguments
// to the returned file and then runs the real CLI, so a test can tell
// whether slipway started a build at all.
func dockerShim(t *testing.T) (pathEnv, logFile string) {
	t.Helper()
	real, err := exec.LookPath("docker")
	if err != nil {
		t.Fatalf("docker CLI: %v", err)
	}
	dir := t.TempDir()
	logFile = filepath.Join(dir, "calls.log")
	shim := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >>%q\nexec %q \"$@\"\n", logFile, real)
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	return "PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH"), logFile
}

// buildCalls are the logged docker calls that build or tag an image.
func buildCalls(logFile string) []string {
	b, _ := os.ReadFile(logFile)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && (f[0] == "build" || f[0] == "tag" || f[0] == "load" || f[0] == "import" ||
			len(f) > 1 && f[0] == "buildx" && f[1] == "build" || len(f) > 1 && f[0] == "image" && (f[1] == "tag" || f[1] == "build")) {
			out = append(out, l)
		}
	}
	return out
}

// TestHostileConfigs covers issue 10's "hostile configs" (and the defect
// "context: ../outside sends files outside the repository into an image"):
// path escapes, symlinks out of the context, a YAML bomb, 10,000 services
// and 1 MB names must each end in a clear one-line error with exit 2, with
// no image made and no build started.
func TestHostileConfigs(t *testing.T) {
	// Mostly waiting (or on its own daemon): it runs beside the other
	// light scenarios, not beside the CPU-bound ones, which are serial.
	t.Parallel()
	fig := newFigure(t, "hostile-configs")
	df := okWith("hostile")

	type hostile struct {
		name  string
		setup func(t *testing.T, dir, project string) // writes slipway.yaml and files
		want  []string                                // the error must contain one of these words
	}
	cases := []hostile{
		{"context-escape", func(t *testing.T, dir, project string) {
			outside := filepath.Join(filepath.Dir(dir), filepath.Base(dir)+"-outside")
			writeFile(t, filepath.Join(outside, "secret.txt"), "not for the image\n")
			t.Cleanup(func() { os.RemoveAll(outside) })
			writeFile(t, filepath.Join(dir, "svc.Dockerfile"), "FROM "+BaseImage+"\nCOPY . /ctx\n")
			writeFile(t, filepath.Join(dir, "slipway.yaml"), fmt.Sprintf(
				"project: %s\nservices:\n  svc:\n    dockerfile: svc.Dockerfile\n    context: ../%s-outside\n", project, filepath.Base(dir)))
		}, []string{"context", "outside"}},
		{"symlink-out-of-context", func(t *testing.T, dir, project string) {
			outside := filepath.Join(filepath.Dir(dir), filepath.Base(dir)+"-outside")
			writeFile(t, filepath.Join(outside, "secret.txt"), "not for the image\n")
			t.Cleanup(func() { os.RemoveAll(outside) })
			writeFile(t, filepath.Join(dir, "ctx", "svc.Dockerfile"), "FROM "+BaseImage+"\nCOPY . /ctx\n")
			if err := os.Symlink(outside, filepath.Join(dir, "ctx", "escape")); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "slipway.yaml"), fmt.Sprintf(
				"project: %s\nservices:\n  svc:\n    dockerfile: ctx/svc.Dockerfile\n    context: ctx\n", project))
		}, []string{"symlink", "outside"}},
		{"yaml-bomb", func(t *testing.T, dir, project string) {
			// Billion laughs: nine levels of nine aliases, 9^9 strings if expanded.
			var y strings.Builder
			fmt.Fprintf(&y, "project: %s\nx0: &a0 [\"lol\"]\n", project)
			for i := 1; i <= 9; i++ {
				p := fmt.Sprintf("*a%d", i-1)
				fmt.Fprintf(&y, "x%d: &a%d [%s,%s,%s,%s,%s,%s,%s,%s,%s]\n", i, i, p, p, p, p, p, p, p, p, p)
			}
			writeFile(t, filepath.Join(dir, "svc.Dockerfile"), df)
			y.WriteString("services:\n  svc:\n    dockerfile: svc.Dockerfile\n    args: {BOMB: *a9}\n")
			writeFile(t, filepath.Join(dir, "slipway.yaml"), y.String())
		}, []string{"alias", "yaml"}},
		{"10000-services", func(t *testing.T, dir, project string) {
			writeFile(t, filepath.Join(dir, "svc.Dockerfile"), df)
			var y strings.Builder
			fmt.Fprintf(&y, "project: %s\nservices:\n", project)
			for i := range 10000 {
				fmt.Fprintf(&y, "  s%d:\n    dockerfile: svc.Dockerfile\n", i)
			}
			writeFile(t, filepath.Join(dir, "slipway.yaml"), y.String())
		}, []string{"services"}},
		{"1MB-service-name", func(t *testing.T, dir, project string) {
			writeFile(t, filepath.Join(dir, "svc.Dockerfile"), df)
			writeFile(t, filepath.Join(dir, "slipway.yaml"), fmt.Sprintf(
				"project: %s\nservices:\n  %s:\n    dockerfile: svc.Dockerfile\n", project, strings.Repeat("a", 1<<20)))
		}, []string{"name", "larger"}},
		// Under any file-size limit, so the name check itself must catch it.
		{"200KB-service-name", func(t *testing.T, dir, project string) {
			writeFile(t, filepath.Join(dir, "svc.Dockerfile"), df)
			writeFile(t, filepath.Join(dir, "slipway.yaml"), fmt.Sprintf(
				"project: %s\nservices:\n  %s:\n    dockerfile: svc.Dockerfile\n", project, strings.Repeat("a", 200<<10)))
		}, []string{"name", "long"}},
		{"1MB-project-name", func(t *testing.T, dir, project string) {
			writeFile(t, filepath.Join(dir, "svc.Dockerfile"), df)
			writeFile(t, filepath.Join(dir, "slipway.yaml"), fmt.Sprintf(
				"project: %s%s\nservices:\n  svc:\n    dockerfile: svc.Dockerfile\n", project, strings.Repeat("b", 1<<20)))
		}, []string{"project", "larger"}},
	}
	needImages(t, "", BaseImage)
	path, calls := dockerShim(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRepo(t, nil, "")
			os.Remove(filepath.Join(r.Dir, "slipway.yaml"))
			c.setup(t, r.Dir, r.Project)
			os.Remove(calls)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res := r.slipway(ctx, []string{path, "USER=hostile"}, "build", "--progress", "plain")
			failed, lost := 0, 0
			errText := strings.TrimSpace(res.Stderr)
			switch {
			case ctx.Err() != nil:
				failed = 1
				t.Errorf("still running after %s", res.Elapsed)
			case res.Code != 2:
				failed = 1
				t.Errorf("want exit 2 (bad config), got %s", res)
			case errText == "" || strings.Count(errText, "\n") > 0:
				failed = 1
				t.Errorf("want a one-line error, got %d lines:\n%.2000s", strings.Count(errText, "\n")+1, errText)
			case len(errText) > 4096:
				failed = 1
				t.Errorf("the error is %d bytes long (it echoes the input?): %.300s…", len(errText), errText)
			case !slices.ContainsFunc(c.want, func(w string) bool { return strings.Contains(strings.ToLower(errText), w) }):
				failed = 1
				t.Errorf("the error does not say what is wrong (want %q in it): %s", c.want, errText)
			}
			if got := buildCalls(calls); len(got) > 0 {
				lost++
				t.Errorf("a build started: %.500q", got)
			}
			if imgs := imagesLabelled(t, "", "dev.slipway.project="+r.Project); len(imgs) > 0 {
				lost++
				t.Errorf("images made: %q", imgs)
			}
			fig.add(1, failed, lost)
			if failed+lost > 0 {
				fig.note("%s: exit %d, %.120s", c.name, res.Code, lastLine(errText))
			}
			t.Logf("%s: exit %d in %s: %.300s", c.name, res.Code, res.Elapsed.Round(time.Millisecond), errText)
		})
	}
}

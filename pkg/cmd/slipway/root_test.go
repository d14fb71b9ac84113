package slipway

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/pkg/cmd/cli"
	"github.com/slipway-dev/slipway/pkg/run"
)

// execute runs the CLI in-process as main does and returns what it printed
// and the exit code main would use.
func execute(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	root := New(cli.Streams{Out: &out, Err: &errb})
	root.SetArgs(args)
	ctx := context.Background()
	err := root.ExecuteContext(ctx)
	if err != nil {
		errb.WriteString("slipway: " + err.Error() + "\n")
	}
	return out.String(), errb.String(), cli.Code(ctx, err)
}

// repo writes a small repository: three services, a group, and a config
// that names its Kind cluster.
func repo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"api.Dockerfile": "FROM scratch\nCOPY a /\n", "web.Dockerfile": "FROM scratch\n", "db.Dockerfile": "FROM scratch\n", "a": "",
		"slipway.yaml": "project: demo\nservices:\n  api: {dockerfile: api.Dockerfile}\n  web: {dockerfile: web.Dockerfile}\n" +
			"  db: {dockerfile: db.Dockerfile}\ngroups:\n  e2e: [api, web]\nkind:\n  cluster: from-config\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "slipway.yaml")
}

// Every usage mistake exits 2, whether cobra finds it or a command does.
func TestUsageErrorsExit2(t *testing.T) {
	cfg := repo(t)
	t.Setenv("SLIPWAY_STATE_DIR", t.TempDir())
	for _, args := range [][]string{
		{"bogus"},                       // unknown command
		{"buidl"},                       // unknown command, with a suggestion
		{"--bogus"},                     // unknown flag on the root
		{"build", "--bogus"},            // unknown flag on a command
		{"clean", "extra"},              // extra argument
		{"import"},                      // missing argument
		{"import", "a", "b"},            // too many arguments
		{"config", "bogus"},             // unknown subcommand of a group
		{"completion", "bash", "extra"}, // cobra's own command
		{"completion", "tcsh"},          // cobra's own command, unknown shell
		{"runs", "--limit", "x"},        // bad flag value
		{"version", "-o", "yaml"},       // bad output format
		{"build", "-f", cfg, "--progress", "fancy"},
		{"build", "-f", cfg, "--kind", "fleet-test"},
		{"tag", "-f", cfg, "nosuch"},
	} {
		_, stderr, code := execute(t, args...)
		if code != cli.ExitUsage {
			t.Errorf("slipway %s: exit %d, want 2 (stderr %q)", strings.Join(args, " "), code, stderr)
		}
		if stderr == "" {
			t.Errorf("slipway %s: nothing on stderr", strings.Join(args, " "))
		}
	}
	if _, stderr, _ := execute(t, "buidl"); !strings.Contains(stderr, "Did you mean this?\n\tbuild") {
		t.Errorf("no suggestion for buidl: %q", stderr)
	}
	if out, _, code := execute(t); code != 0 || !strings.Contains(out, "Available Commands") {
		t.Errorf("slipway alone: exit %d, %q", code, out)
	}
}

// build --kind NAME used to name the cluster; --kind is a switch now, and
// the error says how to name a cluster.
func TestKindIsASwitch(t *testing.T) {
	cfg := repo(t)
	_, stderr, code := execute(t, "build", "-f", cfg, "--kind", "fleet-test")
	if code != cli.ExitUsage || !strings.Contains(stderr, "write --cluster fleet-test") {
		t.Errorf("build --kind fleet-test: exit %d, %q", code, stderr)
	}
	// --cluster with --kind=OTHER names two clusters.
	_, stderr, code = execute(t, "build", "-f", cfg, "--cluster", "a", "--kind=b")
	if code != cli.ExitUsage || !strings.Contains(stderr, "deprecated") || !strings.Contains(stderr, "name one") {
		t.Errorf("build --cluster a --kind=b: exit %d, %q", code, stderr)
	}
}

func TestVersion(t *testing.T) {
	out, _, code := execute(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "slipway ") || !strings.Contains(out, "go1.") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
	out, _, code = execute(t, "version", "-o", "json")
	var v struct {
		Version, Go, Platform string
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Go == "" || v.Platform == "" || v.Version == "" {
		t.Errorf("version -o json: exit %d, %q", code, out)
	}
}

// complete asks cobra's hidden completion command, as the shell scripts do.
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	out, stderr, code := execute(t, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %v: exit %d: %s", args, code, stderr)
	}
	var words []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, ":") || l == "" {
			continue // the directive
		}
		w, _, _ := strings.Cut(l, "\t")
		words = append(words, w)
	}
	return words
}

func TestCompletion(t *testing.T) {
	cfg := repo(t)
	state := t.TempDir()
	t.Setenv("SLIPWAY_STATE_DIR", state)
	for _, id := range []string{"20260101T000001-aaaaaa", "20260102T000001-bbbbbb"} {
		r, err := run.Start(state, run.Record{Run: id, Project: "demo", User: "jane", Started: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"build", "-f", cfg, ""}, []string{"api", "web", "db", "e2e"}},
		{[]string{"build", "-f", cfg, "api", ""}, []string{"web", "db", "e2e"}},
		{[]string{"tag", "-f", cfg, "w"}, []string{"web"}},
		{[]string{"load", "-f", cfg, "e"}, []string{"e2e"}},
		{[]string{"build", "--progress", ""}, []string{"auto", "tty", "plain", "json", "quiet"}},
		{[]string{"build", "--engine", ""}, []string{"docker", "podman"}},
		{[]string{"ls", "-o", ""}, []string{"text", "json"}},
		{[]string{"build", "--metadata-format", ""}, []string{"slipway", "bake", "skaffold"}}, // the shell filters fixed values
		{[]string{"clean", "--run", ""}, []string{"20260102T000001-bbbbbb", "20260101T000001-aaaaaa"}},
		{[]string{"clean", "--run", "20260101"}, []string{"20260101T000001-aaaaaa"}},
	} {
		if got := complete(t, c.args...); !slices.Equal(got, c.want) {
			t.Errorf("complete %q = %q, want %q", c.args, got, c.want)
		}
	}
	// Clusters come from kind's listing; with none found the answer is
	// empty, not an error, and never files.
	out, _, _ := execute(t, "__complete", "load", "--cluster", "")
	if !strings.Contains(out, ":4") { // ShellCompDirectiveNoFileComp
		t.Errorf("cluster completion offers files: %q", out)
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		out, _, code := execute(t, "completion", shell)
		if code != 0 || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: exit %d, %d bytes", shell, code, len(out))
		}
	}
}

// The data commands print JSON with -o json.
func TestJSONOutput(t *testing.T) {
	cfg := repo(t)
	state := t.TempDir()
	t.Setenv("SLIPWAY_STATE_DIR", state)
	t.Setenv("IMAGE_TAG", "")
	out, stderr, code := execute(t, "tag", "-f", cfg, "-o", "json", "--tag", "t1", "e2e")
	var refs map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &refs) != nil || refs["api"] != "localhost/demo-api:t1" || len(refs) != 2 {
		t.Errorf("tag -o json: exit %d, %q %s", code, out, stderr)
	}
	r, err := run.Start(state, run.Record{Run: "20260101T000001-aaaaaa", Project: "demo", User: "jane", Started: time.Now(),
		Services: map[string]*run.Service{"api": {Status: run.Built}}})
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, code = execute(t, "runs", "--offline", "-o", "json")
	var runs []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &runs) != nil || len(runs) != 1 || runs[0]["status"] != "running" {
		t.Errorf("runs -o json: exit %d, %q %s", code, out, stderr)
	}
	r.Close()
	out, _, code = execute(t, "runs", "--offline")
	if code != 0 || !strings.Contains(out, "20260101T000001-aaaaaa") || !strings.Contains(out, "died") || !strings.Contains(out, "api (1 built)") {
		t.Errorf("runs: exit %d, %q", code, out)
	}
}

func TestInit(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "svc"), 0o755)
	os.WriteFile(filepath.Join(dir, "svc", "Dockerfile"), []byte("FROM scratch\nCOPY . /\n"), 0o644)
	out, _, code := execute(t, "init", dir, "--project", "demo")
	if code != 0 || !strings.Contains(out, "project: demo\nservices:\n  svc:\n    context: svc\n") {
		t.Errorf("init: exit %d, %q", code, out)
	}
	out, _, code = execute(t, "init", dir, "-o", "json")
	var p struct {
		Services []struct{ Name, Context string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil || len(p.Services) != 1 || p.Services[0].Context != "svc" {
		t.Errorf("init -o json: exit %d, %q", code, out)
	}
	if _, stderr, code := execute(t, "init", dir, "--write"); code != 0 || !strings.Contains(stderr, "wrote") {
		t.Errorf("init --write: exit %d, %q", code, stderr)
	}
	if _, stderr, code := execute(t, "init", dir, "--write"); code != cli.ExitUsage || !strings.Contains(stderr, "never overwrites") {
		t.Errorf("init --write again: exit %d, %q", code, stderr)
	}
	if _, _, code := execute(t, "init", t.TempDir()); code != cli.ExitUsage {
		t.Errorf("init with no Dockerfile: exit %d, want 2", code)
	}
}

// TestDocsFresh fails when docs/cli does not match the commands: run
// go generate ./pkg/cmd/slipway.
func TestDocsFresh(t *testing.T) {
	dir := t.TempDir()
	if err := GenerateDocs(dir); err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join("..", "..", "..", "docs", "cli")
	want, have := DocFiles(dir), DocFiles(committed)
	if !slices.Equal(want, have) {
		t.Fatalf("docs/cli has %q, the commands make %q: run go generate ./pkg/cmd/slipway", have, want)
	}
	for _, f := range want {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, _ := os.ReadFile(filepath.Join(committed, f))
		if !bytes.Equal(a, b) {
			t.Errorf("docs/cli/%s is stale: run go generate ./pkg/cmd/slipway", f)
		}
	}
}

// examplesPending are commands whose owners have yet to add examples;
// remove a command from here when it gets them.
var examplesPending = []string{}

func TestEveryCommandHasExamples(t *testing.T) {
	root := New(cli.Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		// cobra's own help and completion, and group commands, only list.
		if c.HasSubCommands() || c.Hidden || c.Name() == "help" || (c.HasParent() && c.Parent().Name() == "completion") {
			return
		}
		pending := slices.Contains(examplesPending, c.CommandPath())
		switch {
		case c.Example == "" && !pending:
			t.Errorf("%s has no examples", c.CommandPath())
		case c.Example != "" && pending:
			t.Errorf("%s has examples now: remove it from examplesPending", c.CommandPath())
		}
	}
	walk(root)
}

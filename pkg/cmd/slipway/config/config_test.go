package config

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/pkg/cmd/cli"
	"github.com/slipway-dev/slipway/pkg/config"
)

// `slipway config schema` prints the embedded schema as it is: one JSON
// document ending in exactly one newline, as before it was embedded.
func TestSchemaCommand(t *testing.T) {
	var out bytes.Buffer
	cmd := New(cli.Streams{Out: &out, Err: &out}, &cli.Globals{})
	cmd.SetArgs([]string{"schema"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want, _ := config.Schema()
	if !bytes.Equal(out.Bytes(), want) || !bytes.HasSuffix(want, []byte("}\n")) {
		t.Fatalf("printed %d bytes, want the %d-byte schema ending in one newline", out.Len(), len(want))
	}
	if !json.Valid(out.Bytes()) {
		t.Fatal("printed schema is not JSON")
	}
}

// `config check` reports every problem on stderr and exits 2; -o json
// gives the same as a document on stdout.
func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch AS build\n"), 0o644)
	cfg := filepath.Join(dir, "slipway.yaml")
	os.WriteFile(cfg, []byte("project: demo\nservices:\n  api:\n    target: buld\n    platform: linux/amd65\n"), 0o644)

	run := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		cmd := New(cli.Streams{Out: &out, Err: &errb}, &cli.Globals{File: cfg})
		cmd.SetArgs(append([]string{"check"}, args...))
		cmd.SetOut(&errb)
		cmd.SetErr(&errb)
		err := cmd.Execute()
		return out.String(), errb.String(), err
	}
	out, stderr, err := run()
	if cli.Code(context.Background(), err) != cli.ExitUsage || out != "" {
		t.Fatalf("exit %d, stdout %q", cli.Code(context.Background(), err), out)
	}
	for _, w := range []string{cfg + `:4:13: service api: target "buld" is not a stage of Dockerfile (its stages: build) (did you mean "build"?)`, cfg + ":5:15: ", "2 problems"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}

	out, _, err = run("-o", "json")
	if cli.Code(context.Background(), err) != cli.ExitUsage {
		t.Fatalf("exit %d", cli.Code(context.Background(), err))
	}
	var r struct {
		File   string `json:"file"`
		Valid  bool   `json:"valid"`
		Errors []struct {
			File       string `json:"file"`
			Line       int    `json:"line"`
			Col        int    `json:"col"`
			Message    string `json:"message"`
			Suggestion string `json:"suggestion"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if r.Valid || r.File != cfg || len(r.Errors) != 2 || r.Errors[0].Line != 4 || r.Errors[0].Col != 13 || r.Errors[0].Suggestion != "build" || r.Errors[1].Suggestion != "linux/amd64" {
		t.Fatalf("%+v", r)
	}

	os.WriteFile(cfg, []byte("project: demo\nservices:\n  api:\n    target: build\n"), 0o644)
	out, _, err = run("-o", "json")
	if err != nil || !strings.Contains(out, `"valid": true`) || !strings.Contains(out, `"services": [`) {
		t.Fatalf("%v:\n%s", err, out)
	}
	if _, _, err := run("-o", "yaml"); cli.Code(context.Background(), err) != cli.ExitUsage {
		t.Fatalf("-o yaml: %v", err)
	}
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, yaml string, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("FROM scratch\n"), 0o644)
	}
	p := filepath.Join(dir, FileName)
	os.WriteFile(p, []byte(yaml), 0o644)
	return p
}

func TestLoadGood(t *testing.T) {
	p := write(t, `project: fleet
services:
  base:
    dockerfile: docker/base.Dockerfile
  gateway:
    dockerfile: docker/gateway.Dockerfile
    target: runtime
    args: {GOARCH: amd64}
    depends_on: [base]
groups:
  e2e: [gateway]
`, "docker/base.Dockerfile", "docker/gateway.Dockerfile")
	sub := filepath.Join(filepath.Dir(p), "sub", "deeper")
	os.MkdirAll(sub, 0o755)
	c, err := Load(sub)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Order, ",") != "base,gateway" {
		t.Fatalf("order %v", c.Order)
	}
	sel, err := c.Select("e2e")
	if err != nil || strings.Join(sel, ",") != "base,gateway" {
		t.Fatalf("select e2e = %v, %v (dependencies must come along)", sel, err)
	}
	if _, err := c.Select("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown service: %v", err)
	}
}

func TestErrorsCarryFileAndLine(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown key", "project: p\nservices:\n  a:\n    dockerfile: D\n    colour: red\n", ":5: "},
		{"cycle", "project: p\nservices:\n  a:\n    dockerfile: D\n    depends_on: [b]\n  b:\n    dockerfile: D\n    depends_on: [a]\n", "cycle: a -> b -> a"},
		{"unknown dep", "project: p\nservices:\n  a:\n    dockerfile: D\n    depends_on: [zzz]\n", ":5:18: service a: depends_on names unknown service \"zzz\""},
		{"missing dockerfile", "project: p\nservices:\n  a:\n    dockerfile: nope.Dockerfile\n", ":4:17: service a: Dockerfile \"nope.Dockerfile\" not found"},
		{"duplicate", "project: p\nservices:\n  a:\n    dockerfile: D\n  a:\n    dockerfile: D\n", "already defined"},
		{"no project", "services:\n  a:\n    dockerfile: D\n", "project is required"},
		{"bad group", "project: p\nservices:\n  a:\n    dockerfile: D\ngroups:\n  g: [x]\n", "unknown service \"x\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(t, c.yaml, "D")
			_, err := Load(p)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), p) {
				t.Fatalf("error %q: want %q after the file path", err, c.want)
			}
		})
	}
}

func TestSchemaNamesFields(t *testing.T) {
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"depends_on"`, `"dockerfile"`, `"groups"`, `"project"`} {
		if !strings.Contains(string(b), k) {
			t.Fatalf("schema lacks %s", k)
		}
	}
}

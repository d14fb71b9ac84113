package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A config with many mistakes gets them all in one go, each at its
// line:col, with the name probably meant, and never a Go type name.
func TestCheckReportsEveryProblem(t *testing.T) {
	p := write(t, `project: Demo_Project
servces:
  api: {}
services:
  api:
    dokerfile: api.Dockerfile
    platform: linux/amd65
    target: buld
  web:
    dockerfile: web.Dockerfile
    depends_on: [apx]
    target: runtime
tag: "{{.Servce}}-{{.Unix}}"
image: registry.example.com/demo/{{.Service}}:latest
groups:
  all: [api, wbe]
`, "Dockerfile", "web.Dockerfile")
	os.WriteFile(filepath.Join(filepath.Dir(p), "Dockerfile"), []byte("FROM scratch AS build\nFROM build AS runtime\n"), 0o644)
	os.WriteFile(filepath.Join(filepath.Dir(p), "web.Dockerfile"), []byte("FROM scratch AS base\nFROM base AS final\n"), 0o644)

	_, err := Load(p)
	if err == nil {
		t.Fatal("accepted")
	}
	// The shape comes first: unknown keys stop Parse before the values
	// are looked at, so fix them and look again.
	want := []string{
		`:2:1: unknown key "servces" in the config`, `(did you mean "services"?)`,
		`:6:5: unknown key "dokerfile" in service api`, `(did you mean "dockerfile"?)`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%s", w, err)
		}
	}
	if n := len(AsErrors(err)); n != 2 {
		t.Errorf("%d problems, want 2:\n%s", n, err)
	}

	data, _ := os.ReadFile(p)
	fixed := strings.Replace(strings.Replace(string(data), "servces:\n  api: {}\n", "", 1), "    dokerfile: api.Dockerfile\n", "", 1)
	os.WriteFile(p, []byte(fixed), 0o644)
	r, err := Check(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Valid || len(r.Services) != 0 {
		t.Fatalf("valid: %+v", r)
	}
	var got []string
	for _, e := range r.Errors {
		got = append(got, e.Error())
	}
	all := strings.Join(got, "\n")
	want = []string{
		`slipway.yaml:1:10: project "Demo_Project" must be 1-63 lower-case`,
		`:4:15: service api: platform "linux/amd65": unknown architecture "amd65" (did you mean "linux/amd64"?)`,
		`:5:13: service api: target "buld" is not a stage of Dockerfile (its stages: build, runtime) (did you mean "build"?)`,
		`:8:18: service web: depends_on names unknown service "apx" (did you mean "api"?)`,
		`:9:13: service web: target "runtime" is not a stage of web.Dockerfile (its stages: base, final)`,
		`:10:6: tag template "{{.Servce}}-{{.Unix}}": unknown field .Servce (known: .Project .Service`, `(did you mean ".Service"?)`,
		`:11:8: image template "registry.example.com/demo/{{.Service}}:latest" gives "registry.example.com/demo/api:latest" for service api: it carries the tag "latest"`,
		`:13:14: group "all" names unknown service "wbe" (did you mean "web"?)`,
	}
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("missing %q in:\n%s", w, all)
		}
	}
	if len(r.Errors) != 8 {
		t.Errorf("%d problems, want 8:\n%s", len(r.Errors), all)
	}
	if strings.Contains(all, "config.") || strings.Contains(all, "tag.Vars") || strings.Contains(all, "map[") {
		t.Errorf("a Go type name in:\n%s", all)
	}
	// Load, which every other command uses, reports the same problems
	// (all but the Dockerfile ones), one per line.
	_, err = Load(p)
	if n := len(AsErrors(err)); n != 6 || strings.Count(err.Error(), "\n") != 5 {
		t.Errorf("Load: %d problems:\n%v", n, err)
	}
	var one *Error
	if !errors.As(err, &one) || one.Line != 1 {
		t.Errorf("errors.As finds %+v, want the first problem", one)
	}
}

func TestCheckValid(t *testing.T) {
	p := write(t, "project: demo\nservices:\n  api:\n    platform: linux/arm64/v8,linux/amd64\n    target: run\ngroups:\n  g: [api]\n", "Dockerfile")
	os.WriteFile(filepath.Join(filepath.Dir(p), "Dockerfile"), []byte("ARG X=1\nFROM scratch AS Run\n"), 0o644)
	r, err := Check(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Valid || strings.Join(r.Services, ",") != "api" || strings.Join(r.Groups, ",") != "g" || len(r.Errors) != 0 {
		t.Fatalf("%+v", r)
	}
}

// A Dockerfile that does not parse is reported at its own file and line.
func TestCheckDockerfileParseError(t *testing.T) {
	p := write(t, "project: demo\nservices:\n  api: {}\n", "Dockerfile")
	df := filepath.Join(filepath.Dir(p), "Dockerfile")
	os.WriteFile(df, []byte("FROM scratch\nCOPY\n"), 0o644)
	r, err := Check(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Valid || len(r.Errors) != 1 || !strings.HasPrefix(r.Errors[0].Error(), df+":2: service api: Dockerfile does not parse") {
		t.Fatalf("%+v", r.Errors)
	}
}

func TestPlatforms(t *testing.T) {
	for spec, want := range map[string]string{
		"linux/amd64": "", "linux/arm64/v8": "", "linux": "", "amd64": "", "windows/amd64": "", "linux/arm/v7": "",
		"linux/amd65": `unknown architecture "amd65"`, "linx/amd64": `unknown operating system "linx"`,
		"linux/amd64/v1/x": "os[/arch[/variant]]", "linux/": "not os[/arch", "": "empty", "linux/*": "not os[/arch",
	} {
		got, _ := platformProblem(spec)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%q: %q, want %q", spec, got, want)
		}
	}
}

// Templates fail at check time, in the words of the template.
func TestTemplates(t *testing.T) {
	cases := []struct{ key, value, want string }{
		{"tag", "{{.Service}}-{{", "tag template"},
		{"tag", "{{.Service | nope}}", `function "nope" not defined`},
		{"image", "localhost/{{.Projct}}-{{.Service}}", `unknown field .Projct (known: .Project .Service) (did you mean ".Project"?)`},
		{"image", "localhost/demo@sha256:" + strings.Repeat("a", 64), "it carries the digest"},
		{"image", "Localhost/UPPER", "not a valid image name"},
	}
	for _, c := range cases {
		p := write(t, "project: demo\nservices:\n  api: {}\n"+c.key+": '"+c.value+"'\n", "Dockerfile")
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), ":4:") {
			t.Errorf("%s %q: %v, want line 4 and %q", c.key, c.value, err, c.want)
		}
	}
}

func TestClosest(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"servces", "services"}, {"Project", "project"}, {"dependson", "depends_on"}, {"zzz", ""}, {"x", ""}, {"wbe", "web"},
	} {
		if got := closest(c.name, []string{"project", "services", "depends_on", "image", "web"}); got != c.want {
			t.Errorf("closest(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

// A file wrong everywhere gets at most MaxErrors lines, the last counting
// the rest.
func TestProblemsAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("project: p\nservices:\n")
	for i := range 100 {
		fmt.Fprintf(&b, "  s%d: {colour: red}\n", i)
	}
	_, err := Load(write(t, b.String(), "Dockerfile"))
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != MaxErrors || !strings.HasSuffix(lines[MaxErrors-1], "… and 51 more problems") || !strings.Contains(lines[0], ":3:8: unknown key \"colour\" in service s0") {
		t.Fatalf("%d lines: %s … %s", len(lines), lines[0], lines[len(lines)-1])
	}
}

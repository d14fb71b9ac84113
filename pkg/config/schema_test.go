package config

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/tag"
)

// TestSchemaUpToDate regenerates the schema with tools/schemagen (its own
// module, so the reflector stays out of this one) and fails when the
// embedded schema.json differs: a field added to Config without `go
// generate ./pkg/config` would otherwise ship an outdated schema. It needs
// the go command, which `go test` puts first on PATH, and the generator's
// modules in the module cache (or the module proxy to fill it once).
func TestSchemaUpToDate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := filepath.Abs(filepath.Join("..", "..", "tools", "schemagen"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "go", "run", ".", "-o", "-")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	fresh, err := cmd.Output()
	if err != nil {
		t.Fatalf("running tools/schemagen: %v\n%s", err, stderr.Bytes())
	}
	if bytes.Equal(fresh, schema) {
		return
	}
	got, want := strings.Split(string(schema), "\n"), strings.Split(string(fresh), "\n")
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("pkg/config/schema.json is stale: run `go generate ./pkg/config`\nfirst difference at line %d:\n  committed: %s\n  generated: %s", i+1, g, w)
		}
	}
}

// TestSchema checks what `slipway config schema` serves: JSON with a $id
// at which the committed file can be fetched.
func TestSchema(t *testing.T) {
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		ID    string `json:"$id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	const id = "https://raw.githubusercontent.com/slipway-dev/slipway/main/pkg/config/schema.json"
	if s.ID != id || s.Title != "slipway.yaml" {
		t.Errorf("$id %q, title %q; want %q, slipway.yaml", s.ID, s.Title, id)
	}
	// A caller changing its copy must not change the next caller's.
	b[0] = 'x'
	if again, _ := Schema(); again[0] != '{' {
		t.Error("Schema returned the embedded bytes, not a copy")
	}
}

// TestSchemaDefaultsMatchCode finds every "default" in the schema and checks
// it against what the code does when the key is left out: a default the
// schema states but the code does not apply (dirty_marker said "dirty"
// while the code used "-dirty") fails here, and so does a default added to
// the schema without a check below.
func TestSchemaDefaultsMatchCode(t *testing.T) {
	var doc any
	if err := json.Unmarshal(schema, &doc); err != nil {
		t.Fatal(err)
	}
	found := map[string]any{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, sub := range v {
				if k == "default" {
					found[path] = sub
					continue
				}
				walk(path+"/"+k, sub)
			}
		case []any:
			for i, sub := range v {
				walk(fmt.Sprintf("%s/%d", path, i), sub)
			}
		}
	}
	walk("", doc)

	// What the code does without the key, found by running it.
	p := write(t, "project: demo\nservices:\n  api: {}\n", "Dockerfile")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	image, err := c.ImageName("api", "")
	if err != nil {
		t.Fatal(err)
	}
	vars := tag.Vars{Project: "demo", Service: "api", User: "u", GitShort: "0123abc", Dirty: "-x", Unix: 7}
	defaultTag, err := tag.Render("", vars)
	if err != nil {
		t.Fatal(err)
	}
	render := func(tmpl string, data any) string {
		t.Helper()
		out, err := renderTemplate("t", tmpl, data)
		if err != nil {
			t.Fatalf("schema default %q: %v", tmpl, err)
		}
		return out
	}
	checks := map[string]func(any) (got, want string){
		"/$defs/Config/properties/dirty_marker": func(d any) (string, string) {
			return fmt.Sprint(d), tag.Git{Commit: "0123abcdef", Dirty: true}.DirtyMarker()
		},
		"/$defs/Config/properties/tag": func(d any) (string, string) {
			return tag.Fit(render(fmt.Sprint(d), vars)), defaultTag
		},
		"/$defs/Config/properties/image": func(d any) (string, string) {
			return render(fmt.Sprint(d), map[string]string{"Project": "demo", "Service": "api"}), image
		},
		"/$defs/Service/properties/context": func(d any) (string, string) {
			return fmt.Sprint(d), c.Services["api"].Context
		},
	}
	for path, d := range found {
		check, ok := checks[path]
		if !ok {
			t.Errorf("schema default at %s (%v) is not checked against the code: add it to this test", path, d)
			continue
		}
		if got, want := check(d); got != want {
			t.Errorf("schema default at %s gives %q; the code gives %q", path, got, want)
		}
	}
	for path := range checks {
		if _, ok := found[path]; !ok {
			t.Errorf("the schema states no default at %s", path)
		}
	}
}

// The $id is where the committed schema is served: the raw file of this
// repository's main branch, at the path the schema really has. A module
// path or file moved without the $id following fails here.
func TestSchemaIDNamesThisFile(t *testing.T) {
	var s struct {
		ID string `json:"$id"`
	}
	if err := json.Unmarshal(schema, &s); err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^module github\.com/(\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatalf("go.mod names no github.com module")
	}
	prefix := "https://raw.githubusercontent.com/" + string(m[1]) + "/main/"
	rel, ok := strings.CutPrefix(s.ID, prefix)
	if !ok {
		t.Fatalf("$id %q does not start with %q", s.ID, prefix)
	}
	committed, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(rel)))
	if err != nil || !bytes.Equal(committed, schema) {
		t.Fatalf("$id names %s, which is not the embedded schema: %v", rel, err)
	}
}

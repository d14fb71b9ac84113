package config

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

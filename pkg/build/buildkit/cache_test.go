package buildkit

import (
	"context"
	"testing"

	"github.com/slipway-dev/slipway/pkg/engine"
)

// Cache specs become the solve's cache imports and exports, as buildx
// passes them; the engine's own BuildKit exports inline cache only, so any
// other export goes to the CLI, which says so in buildx's words.
func TestSolveOptCache(t *testing.T) {
	dir := t.TempDir()
	b := &Builder{t: target{kind: Remote}, eng: &engine.Engine{Name: "docker"}}
	spec := engine.BuildSpec{Dockerfile: dir + "/Dockerfile", Context: dir, Tags: []string{"a:t"},
		CacheFrom: []engine.Cache{{Type: "registry", Attrs: map[string]string{"ref": "localhost:5000/a:buildcache", "registry.insecure": "true"}}},
		CacheTo:   []engine.Cache{{Type: "registry", Attrs: map[string]string{"ref": "localhost:5000/a:buildcache", "mode": "max"}}},
	}
	opt, _, err := b.solveOpt(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(opt.CacheImports) != 1 || opt.CacheImports[0].Type != "registry" || opt.CacheImports[0].Attrs["ref"] != "localhost:5000/a:buildcache" || opt.CacheImports[0].Attrs["registry.insecure"] != "true" {
		t.Errorf("imports %+v", opt.CacheImports)
	}
	if len(opt.CacheExports) != 1 || opt.CacheExports[0].Attrs["mode"] != "max" {
		t.Errorf("exports %+v", opt.CacheExports)
	}
	if why := b.unsupported(spec); why != "" {
		t.Errorf("a remote BuildKit refused a registry cache export: %s", why)
	}
	b.t.kind = Docker
	if why := b.unsupported(spec); why == "" {
		t.Error("the docker driver took a registry cache export")
	}
	spec.CacheTo = []engine.Cache{{Type: "inline"}}
	if why := b.unsupported(spec); why != "" {
		t.Errorf("the docker driver refused inline cache: %s", why)
	}
	opt, _, err = b.solveOpt(context.Background(), spec)
	if err != nil || opt.FrontendAttrs["build-arg:BUILDKIT_INLINE_CACHE"] != "1" || opt.CacheExports[0].Type != "inline" {
		t.Errorf("inline: %+v %+v %v", opt.CacheExports, opt.FrontendAttrs, err)
	}
}

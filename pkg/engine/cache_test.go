package engine

import (
	"errors"
	"slices"
	"testing"
)

// Cache specs reach buildx as its own flags, and the engines' plain build
// commands only as far as they can take them.
func TestBuildArgvCache(t *testing.T) {
	spec := BuildSpec{Dockerfile: "Dockerfile", Context: ".",
		CacheFrom: []Cache{{Type: "registry", Attrs: map[string]string{"ref": "localhost:5000/a:buildcache"}}},
		CacheTo:   []Cache{{Type: "registry", Attrs: map[string]string{"ref": "localhost:5000/a:buildcache", "mode": "max"}}},
	}
	bx := &Engine{Name: "docker", Buildx: true}
	a, err := bx.BuildArgv(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range [][]string{
		{"--cache-from", "type=registry,ref=localhost:5000/a:buildcache"},
		{"--cache-to", "type=registry,mode=max,ref=localhost:5000/a:buildcache"},
	} {
		if i := slices.Index(a, w[0]); i < 0 || a[i+1] != w[1] {
			t.Errorf("argv %q lacks %q", a, w)
		}
	}
	classic := &Engine{Name: "docker"}
	if _, err := classic.BuildArgv(spec); !errors.Is(err, ErrCacheNeedsBuildx) {
		t.Errorf("classic docker with a registry cache export: %v", err)
	}
	spec.CacheTo = nil
	a, err = classic.BuildArgv(spec)
	if i := slices.Index(a, "--cache-from"); err != nil || i < 0 || a[i+1] != "localhost:5000/a:buildcache" {
		t.Errorf("classic docker --cache-from: %q %v", a, err)
	}
	q := Cache{Type: "local", Attrs: map[string]string{"dest": "/tmp/a,b"}}
	if got := q.String(); got != `type=local,"dest=/tmp/a,b"` {
		t.Errorf("quoting: %s", got)
	}
}

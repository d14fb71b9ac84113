package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// Cache specs are read as buildx reads them, expanded per service, and
// every bad one is reported at its line and column.
func TestCacheSpecs(t *testing.T) {
	p := write(t, `project: fleet
cache_from:
  - type=registry,ref=localhost:5000/cache/{{.Service}}
cache_to: ["type=registry,ref=localhost:5000/cache/{{.Service}},mode=max"]
services:
  api: {}
  web:
    cache_from: [localhost:5000/web:buildcache, "type=local,src=ci-cache"]
    cache_to: [type=inline]
`, "Dockerfile")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	from, to, fromSet, toSet, err := c.Cache("api")
	if err != nil || !fromSet || !toSet || len(from) != 1 || len(to) != 1 {
		t.Fatalf("api: %v %v %v %v %v", from, to, fromSet, toSet, err)
	}
	if got := to[0].String(); got != "type=registry,mode=max,ref=localhost:5000/cache/api" {
		t.Errorf("api cache_to = %s", got)
	}
	from, to, _, _, err = c.Cache("web")
	if err != nil || len(from) != 2 || len(to) != 1 {
		t.Fatalf("web: %v %v %v", from, to, err)
	}
	if from[0].String() != "type=registry,ref=localhost:5000/web:buildcache" || to[0].String() != "type=inline" {
		t.Errorf("web: %s %s", from[0], to[0])
	}
	if want := filepath.Join(c.Dir, "ci-cache"); from[1].Attrs["src"] != want {
		t.Errorf("local src %q, want %q", from[1].Attrs["src"], want)
	}

	bad := write(t, `project: fleet
cache_from:
  - type=regstry,ref=x
  - type=inline
cache_to:
  - type=registry,ref=localhost:5000/c,mode=maximum
  - type=local
  - "type=registry,ref={{.Servce}}"
services:
  api:
    cache_to: [type=registry]
    cache_from: ["type=registry,ref=UPPER/Case"]
`, "Dockerfile")
	_, err = Load(bad)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{
		`:3:5: cache_from "type=regstry,ref=x": unknown cache type "regstry"`, `(did you mean "registry"?)`,
		`:4:5: cache_from "type=inline": type=inline is an export only`,
		`:6:5: cache_to "type=registry,ref=localhost:5000/c,mode=maximum": mode "maximum": want min or max`,
		`:7:5: cache_to "type=local": type=local needs dest=FOLDER`,
		`:8:5: cache_to: unknown field .Servce`, `(did you mean ".Service"?)`,
		`:11:16: service api: cache_to "type=registry": type=registry needs ref=IMAGE`,
		`:12:18: service api: cache_from "type=registry,ref=UPPER/Case": ref "UPPER/Case" is not an image reference`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%s", w, err)
		}
	}
}

func TestParseCacheShorthand(t *testing.T) {
	c, err := ParseCache("localhost:5000/x:cache", false)
	if err != nil || c.Type != CacheRegistry || c.Attrs["ref"] != "localhost:5000/x:cache" {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := ParseCache("inline", true); err == nil {
		t.Fatal("bare inline accepted")
	}
	if _, err := ParseCache("type=gha", true); err == nil {
		t.Fatal("gha accepted")
	}
	if _, err := ParseCache("type=registry,ref=a,ref=b", true); err == nil {
		t.Fatal("duplicate accepted")
	}
}

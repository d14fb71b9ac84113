package pipeline

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/slipway-dev/slipway/internal/fixture"
	"github.com/slipway-dev/slipway/internal/labels"
	"github.com/slipway-dev/slipway/pkg/progress"
	"github.com/slipway-dev/slipway/pkg/registry"
	"github.com/slipway-dev/slipway/pkg/registry/registryfake"
	"github.com/slipway-dev/slipway/pkg/run"
)

// Unit tests of reuse across machines against an in-memory engine and
// registry: an image in the registry is reused only when its digest tag's
// config carries the build's inputs.

const regName = "localhost:5000/demo-api"

// regFixture is a fixture whose images live in a loopback registry, with
// one image of api pushed (from "another machine") under its digest tag
// carrying inputs; the engine has nothing of it until it is pulled.
func regFixture(t *testing.T, inputs func(digest string) string) (*pipeFixture, *registryfake.Registry, string) {
	f := newFixture(t, "")
	f.p.Registry = "localhost:5000"
	digest := f.digest()
	reg := registryfake.New()
	l := fixture.Labels("api", "elsewhere", regName+":api-bob-1")
	l[labels.Inputs], l[labels.User] = inputs(digest), "bob"
	img := registry.Image{Digest: "sha256:m1", ID: "sha256:cfg1", Labels: l}
	reg.Put(regName+":"+registry.DigestTag(digest), img)
	// What a pull of it gives the engine.
	f.Eng.Add("sha256:cfg1", l, regName+"@sha256:m1")
	return f, reg, digest
}

func TestRegistryReuse(t *testing.T) {
	ctx := context.Background()
	same := func(d string) string { return d }
	t.Run("same inputs: pulled and re-tagged, no build", func(t *testing.T) {
		f, reg, digest := regFixture(t, same)
		rn, img := f.reuseRunner("r1")
		rn.registry = reg
		done, err := rn.reuse(ctx, img, map[string]*Image{"api": img})
		if err != nil || !done || img.Status != run.ReusedRegistry || img.ID != "sha256:cfg1" || img.Inputs != digest {
			t.Fatalf("done %v err %v img %+v", done, err, img)
		}
		if !f.Eng.Has(img.Ref, "sha256:cfg1") {
			t.Fatal("the engine does not have the reused image under its new tag")
		}
		if img.Pushed != "" || slices.ContainsFunc(reg.Calls(), func(c string) bool { return strings.HasPrefix(c, "tag ") }) {
			t.Fatalf("wrote to the registry without --push: %v", reg.Calls())
		}
	})
	t.Run("with --push the registry re-tags it", func(t *testing.T) {
		f, reg, _ := regFixture(t, same)
		f.p.Push = true
		rn, img := f.reuseRunner("r1")
		rn.registry = reg
		if done, err := rn.reuse(ctx, img, map[string]*Image{"api": img}); !done || err != nil {
			t.Fatalf("done %v err %v", done, err)
		}
		if !reg.Has(regName+":"+img.Tag, "sha256:m1") || img.Pushed != "sha256:m1" {
			t.Fatalf("not re-tagged in the registry: %v pushed %q", reg.Calls(), img.Pushed)
		}
	})
	t.Run("a tag whose label says other inputs is not trusted", func(t *testing.T) {
		f, reg, _ := regFixture(t, func(string) string { return "sha256:" + strings.Repeat("0", 64) })
		rn, img := f.reuseRunner("r1")
		rn.registry = reg
		var notes []string
		rn.rep = reporterFunc(func(e progress.Event) { notes = append(notes, e.Line) })
		if done, _ := rn.reuse(ctx, img, map[string]*Image{"api": img}); done {
			t.Fatal("reused an image whose label does not match its tag")
		}
		if !slices.ContainsFunc(notes, func(l string) bool { return strings.Contains(l, "not trusted") }) {
			t.Fatalf("no note in the log: %q", notes)
		}
	})
	t.Run("another service's image under the tag is not trusted", func(t *testing.T) {
		f, reg, digest := regFixture(t, same)
		l := fixture.Labels("web", "elsewhere", "x")
		l[labels.Inputs] = digest
		reg.Put(regName+":"+registry.DigestTag(digest), registry.Image{Digest: "sha256:m2", ID: "sha256:cfg2", Labels: l})
		rn, img := f.reuseRunner("r1")
		rn.registry = reg
		if done, _ := rn.reuse(ctx, img, map[string]*Image{"api": img}); done {
			t.Fatal("reused another service's image")
		}
	})
	t.Run("--no-cache never asks", func(t *testing.T) {
		f, reg, _ := regFixture(t, same)
		f.p.NoCache = true
		rn, img := f.reuseRunner("r1")
		rn.registry = reg
		if done, _ := rn.reuse(ctx, img, map[string]*Image{"api": img}); done || len(reg.Calls()) > 0 {
			t.Fatalf("done %v calls %v", done, reg.Calls())
		}
	})
	t.Run("no registry, no lookup", func(t *testing.T) {
		f, reg, _ := regFixture(t, same)
		f.p.Registry = ""
		rn, img := f.reuseRunner("r1")
		rn.registry = reg
		if done, _ := rn.reuse(ctx, img, map[string]*Image{"api": img}); done || len(reg.Calls()) > 0 {
			t.Fatalf("done %v calls %v", done, reg.Calls())
		}
	})
	t.Run("the engine's own image wins over the registry", func(t *testing.T) {
		f, reg, digest := regFixture(t, same)
		l := fixture.Labels("api", "r0", regName+":old")
		l[labels.Inputs] = digest
		f.Eng.Add("sha256:local", l, regName+":old")
		rn, img := f.reuseRunner("r1")
		rn.registry = reg
		if done, _ := rn.reuse(ctx, img, map[string]*Image{"api": img}); !done || img.Status != run.Reused || len(reg.Calls()) > 0 {
			t.Fatalf("status %s calls %v", img.Status, reg.Calls())
		}
	})
	t.Run("a pushed build is tagged by its inputs", func(t *testing.T) {
		f, reg, digest := regFixture(t, same)
		f.p.Push = true
		rn, img := f.reuseRunner("r1")
		rn.registry = reg
		reg.Put(regName+":"+"fresh", registry.Image{Digest: "sha256:m3"})
		img.Inputs, img.Status, img.Pushed = digest, run.Built, "sha256:m3"
		rn.shareInRegistry(ctx, img)
		if !reg.Has(regName+":"+registry.DigestTag(digest), "sha256:m3") || !reg.Has(regName+":"+BuildcacheTag, "sha256:m3") {
			t.Fatalf("calls %v", reg.Calls())
		}
	})
}

func TestCacheSpecsDefaults(t *testing.T) {
	f := newFixture(t, "")
	rn := &runner{plan: f.p}
	if from, to, err := rn.cacheSpecs("api"); err != nil || from != nil || to != nil {
		t.Fatalf("no registry: %v %v %v", from, to, err)
	}
	f.p.Registry = "localhost:5000"
	from, to, _ := rn.cacheSpecs("api")
	if len(from) != 1 || from[0].String() != "type=registry,ref=localhost:5000/demo-api:buildcache,registry.insecure=true" || to != nil {
		t.Fatalf("registry, no push: %v %v", from, to)
	}
	f.p.Push = true
	if _, to, _ = rn.cacheSpecs("api"); len(to) != 1 || to[0].String() != "type=inline" {
		t.Fatalf("push on the engine's BuildKit: %v", to)
	}
	f.p.Builder = "fleet"
	// A named builder runs in a container or pod: the host's loopback
	// registry is not its loopback, so the cache travels inline.
	if _, to, _ = rn.cacheSpecs("api"); len(to) != 1 || to[0].String() != "type=inline" {
		t.Fatalf("push on a builder, loopback registry: %v", to)
	}
	f.p.Registry = "registry.example.com:5000"
	if _, to, _ = rn.cacheSpecs("api"); len(to) != 1 || to[0].String() != "type=registry,mode=max,ref=registry.example.com:5000/demo-api:buildcache" {
		t.Fatalf("push on a builder: %v", to)
	}
	f.p.Registry = "localhost:5000"
	rn.o.CacheTo = []string{"type=local,dest=/tmp/c"}
	if _, to, _ = rn.cacheSpecs("api"); len(to) != 1 || to[0].String() != "type=local,dest=/tmp/c" {
		t.Fatalf("--cache-to: %v", to)
	}
	rn.o.CacheFrom = []string{"type=inline"}
	if _, _, err := rn.cacheSpecs("api"); err == nil || !strings.Contains(err.Error(), "--cache-from") {
		t.Fatalf("bad --cache-from: %v", err)
	}
	rn.o.CacheFrom = nil
	f.p.NoCache = true
	if from, _, _ := rn.cacheSpecs("api"); from != nil {
		t.Fatalf("--no-cache imports %v", from)
	}
}

type reporterFunc func(progress.Event)

func (f reporterFunc) Event(e progress.Event) { f(e) }
func (reporterFunc) Close()                   {}

// Services look up at once: the real client is made once, race-free.
func TestRegistryClientConcurrent(t *testing.T) {
	f := newFixture(t, "")
	f.p.Registry = "localhost:5000"
	rn := &runner{plan: f.p}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = rn.registryClient() }()
	}
	wg.Wait()
	if _, ok := rn.registryClient().(registry.Remote); !ok {
		t.Fatalf("client %T", rn.registryClient())
	}
}

// Package registryfake is an in-memory registry.Client for unit tests of
// the reuse rules: images by reference, tags as pointers to them.
package registryfake

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/slipway-dev/slipway/pkg/registry"
)

// Registry holds images by "name:tag" and by "name@digest".
type Registry struct {
	mu     sync.Mutex
	images map[string]*registry.Image
	calls  []string
}

var _ registry.Client = (*Registry)(nil)

// New returns an empty registry.
func New() *Registry { return &Registry{images: map[string]*registry.Image{}} }

// Put stores an image under ref (name:tag) and under name@digest.
func (r *Registry) Put(ref string, img registry.Image) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := img
	c.Labels = maps.Clone(img.Labels)
	r.images[ref] = &c
	r.images[repo(ref)+"@"+img.Digest] = &c
}

// Has reports whether ref names the image with this manifest digest.
func (r *Registry) Has(ref, digest string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	im := r.images[ref]
	return im != nil && im.Digest == digest
}

// Calls lists what was asked, in order ("inspect REF", "tag SRC TAG").
func (r *Registry) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// Inspect implements registry.Client.
func (r *Registry) Inspect(_ context.Context, ref string) (*registry.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "inspect "+ref)
	im := r.images[ref]
	if im == nil {
		return nil, fmt.Errorf("registry image %s: %w", ref, registry.ErrNotFound)
	}
	c := *im
	c.Labels = maps.Clone(im.Labels)
	return &c, nil
}

// Tag implements registry.Client.
func (r *Registry) Tag(_ context.Context, src, tag string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "tag "+src+" "+tag)
	im := r.images[src]
	if im == nil {
		return fmt.Errorf("registry image %s: %w", src, registry.ErrNotFound)
	}
	r.images[repo(src)+":"+tag] = im
	return nil
}

// repo is ref without its tag or digest.
func repo(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		return ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[:i]
	}
	return ref
}

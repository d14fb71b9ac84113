// Package enginefake is an in-memory engine.Client for unit tests of the
// rules that decide tags, reuse and removal: images by ID, names pointing
// at them, containers using some, and a log of every call that changed
// something.
package enginefake

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/pkg/engine"
)

// Engine is a fake engine.Client. The zero value is not usable: use New.
type Engine struct {
	mu     sync.Mutex
	images map[string]*engine.Image // by ID
	names  map[string]string        // ref -> ID
	inUse  map[string]bool          // image IDs containers use
	calls  []string
}

var _ engine.Client = (*Engine)(nil)

// New returns an empty fake engine.
func New() *Engine {
	return &Engine{images: map[string]*engine.Image{}, names: map[string]string{}, inUse: map[string]bool{}}
}

// Add stores an image with labels under refs and returns it.
func (e *Engine) Add(id string, labels map[string]string, refs ...string) *engine.Image {
	e.mu.Lock()
	defer e.mu.Unlock()
	im := e.images[id]
	if im == nil {
		im = &engine.Image{ID: id, Labels: maps.Clone(labels), Created: time.Now(), Size: 1 << 20}
		e.images[id] = im
	}
	for _, r := range refs {
		e.tagLocked(id, r)
	}
	return e.copyLocked(im)
}

// Use marks image id as used by a container.
func (e *Engine) Use(id string) { e.mu.Lock(); e.inUse[id] = true; e.mu.Unlock() }

// Has reports whether ref names image id ("" for any image).
func (e *Engine) Has(ref, id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	got, ok := e.names[ref]
	return ok && (id == "" || got == id)
}

// Calls returns the changing calls made so far, e.g. "tag ID ref", "untag ref".
func (e *Engine) Calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

func (e *Engine) tagLocked(id, ref string) {
	if old, ok := e.names[ref]; ok {
		e.dropName(old, ref)
	}
	e.names[ref] = id
	e.images[id].RepoTags = append(e.images[id].RepoTags, ref)
}

func (e *Engine) dropName(id, ref string) {
	if im := e.images[id]; im != nil {
		im.RepoTags = slices.DeleteFunc(im.RepoTags, func(r string) bool { return r == ref })
	}
}

func (e *Engine) copyLocked(im *engine.Image) *engine.Image {
	c := *im
	c.RepoTags = slices.Clone(im.RepoTags)
	c.Labels = maps.Clone(im.Labels)
	return &c
}

func (e *Engine) lookup(ref string) (*engine.Image, bool) {
	if id, ok := e.names[ref]; ok {
		return e.images[id], true
	}
	if im, ok := e.images[ref]; ok {
		return im, true
	}
	return nil, false
}

// Inspect implements engine.Client.
func (e *Engine) Inspect(_ context.Context, ref string) (*engine.Image, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	im, ok := e.lookup(ref)
	if !ok {
		return nil, fmt.Errorf("inspecting %s: %w", ref, engine.ErrNotFound)
	}
	return e.copyLocked(im), nil
}

// InspectSome implements engine.Client.
func (e *Engine) InspectSome(_ context.Context, refs ...string) (map[string]*engine.Image, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]*engine.Image{}
	for _, r := range refs {
		if im, ok := e.lookup(r); ok {
			out[r] = e.copyLocked(im)
		}
	}
	return out, nil
}

// InspectAll implements engine.Client.
func (e *Engine) InspectAll(ctx context.Context, refs ...string) ([]*engine.Image, error) {
	out := make([]*engine.Image, len(refs))
	for i, r := range refs {
		im, err := e.Inspect(ctx, r)
		if err != nil {
			return nil, err
		}
		out[i] = im
	}
	return out, nil
}

// Images implements engine.Client: images with a name whose labels match.
func (e *Engine) Images(_ context.Context, filter map[string]string) ([]*engine.Image, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*engine.Image
	for _, id := range slices.Sorted(maps.Keys(e.images)) {
		im := e.images[id]
		ok := len(im.RepoTags) > 0
		for k, v := range filter {
			got, has := im.Labels[k]
			ok = ok && has && (v == "" || got == v)
		}
		if ok {
			out = append(out, e.copyLocked(im))
		}
	}
	return out, nil
}

// ImagesInUse implements engine.Client.
func (e *Engine) ImagesInUse(context.Context) (map[string]bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.inUse), nil
}

// Tag implements engine.Client.
func (e *Engine) Tag(_ context.Context, src, dst string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	im, ok := e.lookup(src)
	if !ok {
		return fmt.Errorf("tagging %s: %w", src, engine.ErrNotFound)
	}
	e.tagLocked(im.ID, dst)
	e.calls = append(e.calls, "tag "+im.ID+" "+dst)
	return nil
}

// Untag implements engine.Client.
func (e *Engine) Untag(_ context.Context, refs ...string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range refs {
		id, ok := e.names[r]
		if !ok {
			return fmt.Errorf("untagging %s: %w", r, engine.ErrNotFound)
		}
		delete(e.names, r)
		e.dropName(id, r)
		e.calls = append(e.calls, "untag "+r)
	}
	return nil
}

// Save implements engine.Client: it writes the refs, one a line.
func (e *Engine) Save(_ context.Context, w io.Writer, refs ...string) error {
	_, err := io.WriteString(w, strings.Join(refs, "\n"))
	return err
}

// Load implements engine.Client; the fake loads nothing.
func (e *Engine) Load(context.Context, io.Reader) ([]string, error) { return nil, nil }

// Push implements engine.Client: the digest is the image ID.
func (e *Engine) Push(ctx context.Context, ref string, _ io.Writer) (string, error) {
	im, err := e.Inspect(ctx, ref)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	e.calls = append(e.calls, "push "+ref)
	e.mu.Unlock()
	return im.ID, nil
}

// Pull implements engine.Client; the fake has every image it has.
func (e *Engine) Pull(ctx context.Context, ref, _ string, _ io.Writer) error {
	_, err := e.Inspect(ctx, ref)
	return err
}

package engine

import (
	"context"
	"io"
)

// Client is what slipway asks of an engine's image store: the seam between
// the rules (which tag is free, what is reused, what a run owns) and the
// engine's CLI, so that the rules are unit-tested against a fake
// (package enginefake) and only the integration tests need a daemon.
// Building stays with package build, which runs the engine's build command.
type Client interface {
	// Inspect returns ref's image, or an error wrapping ErrNotFound.
	Inspect(ctx context.Context, ref string) (*Image, error)
	// InspectSome returns the images of those refs that exist, by ref.
	InspectSome(ctx context.Context, refs ...string) (map[string]*Image, error)
	// InspectAll returns every ref's image, in order, or an error naming the
	// first that is missing.
	InspectAll(ctx context.Context, refs ...string) ([]*Image, error)
	// Images lists images whose labels match filter ("" matches any value).
	Images(ctx context.Context, filter map[string]string) ([]*Image, error)
	// ImagesInUse returns the IDs of images that containers use.
	ImagesInUse(ctx context.Context) (map[string]bool, error)
	Tag(ctx context.Context, src, dst string) error
	Untag(ctx context.Context, refs ...string) error
	Save(ctx context.Context, w io.Writer, refs ...string) error
	Load(ctx context.Context, r io.Reader) ([]string, error)
	// Push sends ref to its registry and returns the registry digest.
	Push(ctx context.Context, ref string, log io.Writer) (string, error)
	Pull(ctx context.Context, ref, platform string, log io.Writer) error
}

var _ Client = (*Engine)(nil)

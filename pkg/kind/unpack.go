package kind

import (
	"context"
)

// Unpack is when a node unpacks an image a load brought: the layers are
// written to the content store either way; unpacking them into the
// snapshotter's filesystems is what a container start needs.
type Unpack int

const (
	// UnpackDefault is the package's choice, DefaultUnpack.
	UnpackDefault Unpack = iota
	// UnpackOnFirstUse imports with `ctr images import --no-unpack`: the
	// CRI unpacks an image when the first container starts from it, so a
	// node that never runs an image never pays for unpacking it (a load
	// to many nodes of which few run each image).
	UnpackOnFirstUse
	// UnpackAtImport unpacks during the import, as `kind load` does: the
	// work moves before the first start, where it overlaps the stream.
	UnpackAtImport
)

// String names the mode as the CLI flag spells it.
func (u Unpack) String() string {
	switch u {
	case UnpackOnFirstUse:
		return "on-first-use"
	case UnpackAtImport:
		return "at-import"
	default:
		return "default"
	}
}

// DefaultUnpack is what UnpackDefault means: unpacking at import. Deferring
// the unpack moves the work, it does not remove it, whenever every node runs
// every image; and when a kubelet starts pods of several images at once,
// each first start unpacks the base layers the images share again, in
// parallel, so an E2E run reaches Ready pods later (docs/kind-loading.md
// has the figures, from Kind-shaped nodes and a real Kind cluster).
const DefaultUnpack = UnpackAtImport

type unpackKey struct{}

// WithUnpack returns a context under which every load imports with mode u.
// Like WithStats it rides on the context: the loads are reached through
// several layers (clusters, publish) that need not know.
func WithUnpack(ctx context.Context, u Unpack) context.Context {
	return context.WithValue(ctx, unpackKey{}, u)
}

// ParseUnpack reads a mode as String spells it ("" is UnpackDefault).
func ParseUnpack(s string) (Unpack, bool) {
	for _, u := range []Unpack{UnpackDefault, UnpackOnFirstUse, UnpackAtImport} {
		if s == u.String() || (s == "" && u == UnpackDefault) {
			return u, true
		}
	}
	return UnpackDefault, false
}

// unpackMode is the mode of ctx's loads, never UnpackDefault: WithUnpack's,
// else DefaultUnpack. (The CLI reads --unpack and $SLIPWAY_KIND_UNPACK.)
func unpackMode(ctx context.Context) Unpack {
	if u, ok := ctx.Value(unpackKey{}).(Unpack); ok && u != UnpackDefault {
		return u
	}
	return DefaultUnpack
}

// importArgs are `ctr images import`'s arguments for mode u, reading the
// archive from stdin.
func importArgs(u Unpack, snapshotter string) []string {
	args := []string{"--namespace=k8s.io", "images", "import"}
	if u != UnpackAtImport {
		args = append(args, "--no-unpack")
	}
	return append(args, "--snapshotter="+snapshotter, "-")
}

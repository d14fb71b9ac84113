package slipway

import (
	"context"

	"github.com/slipway-dev/slipway/internal/clusters"
	"github.com/slipway-dev/slipway/internal/resolve"
	"github.com/slipway-dev/slipway/pkg/kind"
)

// LoadOptions configures Load and LoadArchive.
type LoadOptions struct {
	Kind KindOptions
	// Engine holding the images: "docker", "podman" or "" to detect.
	Engine string
	// ConfigCluster is the config's kind.cluster default, if any.
	ConfigCluster string
	// Archive is the file LoadArchive streams into the nodes.
	Archive string
}

// Load puts refs (images in the engine) into the Kind cluster's nodes,
// sending only what each node lacks. It returns one entry per ref.
func Load(ctx context.Context, o LoadOptions, refs ...string) (map[string]*Loaded, error) {
	eng, err := detect(ctx, o.Engine)
	if err != nil {
		return nil, err
	}
	c, err := findCluster(ctx, o)
	if err != nil {
		return nil, err
	}
	return clusters.LoadAll(ctx, c, eng, refs...)
}

func findCluster(ctx context.Context, o LoadOptions) (*kind.Cluster, error) {
	return clusters.Find(ctx, o.Kind, o.ConfigCluster)
}

// ResolveOptions says where Resolve looks.
type ResolveOptions struct {
	// Config is slipway.yaml, or a folder to search upward from.
	Config   string
	StateDir string
}

// Resolved is what Resolve found: image references, the config's default
// Kind cluster, and the engine that built the images named by service.
type Resolved = resolve.Resolved

// Resolve turns service names into the image the newest run of the project
// built for each; arguments with ':' or '/' are image references already.
func Resolve(o ResolveOptions, args []string) (*Resolved, error) {
	return resolve.Resolve(o.Config, orState(o.StateDir), args)
}

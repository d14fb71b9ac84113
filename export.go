package slipway

import (
	"context"

	"github.com/slipway-dev/slipway/internal/archive"
	"github.com/slipway-dev/slipway/internal/resolve"
)

// ExportOptions says what to write where.
type ExportOptions struct {
	// Config is slipway.yaml, or a folder to search upward from.
	Config string
	// Engine holding the images: "docker", "podman" or "" to detect.
	Engine   string
	StateDir string
	// Path is the archive to write; it appears whole or not at all.
	Path string
	// Images are services (the newest run's image of each) or image
	// references; none means every image the newest run produced.
	Images []string
}

// Export writes images as one archive, for a CI artifact, and returns the
// references it wrote.
func Export(ctx context.Context, o ExportOptions) ([]string, error) {
	eng, err := detect(ctx, o.Engine)
	if err != nil {
		return nil, err
	}
	stateDir, images := orState(o.StateDir), o.Images
	if len(images) == 0 {
		if images, err = resolve.NewestRunImages(o.Config, stateDir); err != nil {
			return nil, err
		}
	}
	rs, err := resolve.Resolve(o.Config, stateDir, images)
	if err != nil {
		return nil, err
	}
	if err := archive.Write(ctx, eng, o.Path, rs.Refs...); err != nil {
		return nil, err
	}
	return rs.Refs, nil
}

// ImportOptions says which archive goes into which engine.
type ImportOptions struct {
	Engine string
	// Path is an archive written by Export.
	Path string
}

// Import loads an archive written by Export into the engine; image IDs are
// kept, so later runs can --reuse them.
func Import(ctx context.Context, o ImportOptions) ([]string, error) {
	eng, err := detect(ctx, o.Engine)
	if err != nil {
		return nil, err
	}
	return archive.Read(ctx, eng, o.Path)
}

// LoadArchive streams an archive written by Export (o.Archive) straight
// into every node of a Kind cluster, without going through the engine.
func LoadArchive(ctx context.Context, o LoadOptions) error {
	c, err := findCluster(ctx, o)
	if err != nil {
		return err
	}
	return archive.ToNodes(ctx, c, o.Archive)
}

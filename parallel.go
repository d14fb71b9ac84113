package slipway

import (
	"context"
	"io"

	"github.com/slipway-dev/slipway/pkg/progress"
)

// BuildImagesInParallel builds services (names or groups; none means all)
// of the repository at projectRoot, writes [service]-prefixed progress and
// logs to w, and returns service → image reference. It is the shape E2E
// suites already call; see BuildImagesInParallelContext to cancel it.
func BuildImagesInParallel(services []string, projectRoot string, w io.Writer) (map[string]string, error) {
	return BuildImagesInParallelContext(context.Background(), services, projectRoot, w)
}

// BuildImagesInParallelContext is BuildImagesInParallel that stops every
// build when ctx ends.
func BuildImagesInParallelContext(ctx context.Context, services []string, projectRoot string, w io.Writer) (map[string]string, error) {
	o := Options{Config: projectRoot, Services: services}
	if w != nil {
		o.Reporter = progress.NewPlain(w)
	}
	res, err := Build(ctx, o)
	if o.Reporter != nil {
		o.Reporter.Close()
	}
	if res == nil {
		return nil, err
	}
	return res.Refs(), err
}

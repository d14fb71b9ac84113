// Package publish delivers a built image to where it is used: a registry,
// a Kind cluster's nodes, or several in turn. The pipeline calls one
// Interface for every image as soon as it is built (or reused), so
// pipelined delivery is one code path whatever the destinations.
package publish

import (
	"context"
	"fmt"
	"io"

	"github.com/slipway-dev/slipway/internal/clusters"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/kind"
	"github.com/slipway-dev/slipway/pkg/progress"
)

// Image is one image to deliver.
type Image struct {
	Service, Ref, ID string
	// Fresh: this run built it (not reused), so no node holds it yet and a
	// load starts the engine's save without waiting for the nodes' answer.
	Fresh bool
	// Log receives push and pull output.
	Log io.Writer
	// Report, if set, is told of each step (pushing, pushed, loading, loaded).
	Report func(state progress.State, line string)
}

func (img Image) report(s progress.State, line string) {
	if img.Report != nil {
		img.Report(s, line)
	}
}

// Delivery is what publishing did so far; publishers fill their part.
type Delivery struct {
	// Pushed is the registry digest, once pushed.
	Pushed string
	// Kind is the load into a cluster, once tried.
	Kind *clusters.Loaded
}

// Interface delivers img, recording what it did in d.
type Interface interface {
	Publish(ctx context.Context, img Image, d *Delivery) error
}

// Registry pushes to the registry the image's name points at, with the
// engine's own credentials, once per image.
type Registry struct{ Eng engine.Client }

// Publish pushes img unless d says it is pushed already.
func (r Registry) Publish(ctx context.Context, img Image, d *Delivery) error {
	if d.Pushed != "" {
		return nil
	}
	img.report(progress.Pushing, "")
	digest, err := r.Eng.Push(ctx, img.Ref, img.Log)
	if err != nil {
		return fmt.Errorf("%s: %w", img.Service, err)
	}
	d.Pushed = digest
	img.report(progress.Pushed, digest)
	return nil
}

// Kind loads into every node of Cluster that lacks the image.
type Kind struct {
	Cluster *kind.Cluster
	// Await, when Cluster is nil, is a cluster still being created: the
	// load waits for it.
	Await *clusters.Awaited
	Eng   engine.Client
	// FromRegistry: the engine never held the image (a multi-platform
	// build went straight to the registry), so the nodes' platform is
	// pulled first.
	FromRegistry bool
}

// Publish loads img into the cluster.
func (k Kind) Publish(ctx context.Context, img Image, d *Delivery) error {
	local := kind.Image{Ref: img.Ref, ID: img.ID, Fresh: img.Fresh}
	if k.FromRegistry {
		if err := k.Eng.Pull(ctx, img.Ref, "", img.Log); err != nil {
			return fmt.Errorf("%s: %w", img.Service, err)
		}
		im, err := k.Eng.Inspect(ctx, img.Ref)
		if err != nil {
			return fmt.Errorf("%s: %w", img.Service, err)
		}
		local.ID = im.ID
	}
	c := k.Cluster
	if c == nil {
		img.report(progress.Loading, "waiting for Kind cluster "+k.Await.Name)
		var err error
		if c, err = k.Await.Cluster(ctx); err != nil {
			return fmt.Errorf("%s: %w", img.Service, err)
		}
	}
	img.report(progress.Loading, "")
	d.Kind = clusters.LoadOne(ctx, c, k.Eng, local)
	if d.Kind.Err != nil {
		return fmt.Errorf("%s: %w", img.Service, d.Kind.Err)
	}
	img.report(progress.Loaded, d.Kind.Summary())
	return nil
}

// Multi publishes to each in turn and stops at the first error.
type Multi []Interface

// Publish runs every publisher in order.
func (m Multi) Publish(ctx context.Context, img Image, d *Delivery) error {
	for _, p := range m {
		if err := p.Publish(ctx, img, d); err != nil {
			return err
		}
	}
	return nil
}

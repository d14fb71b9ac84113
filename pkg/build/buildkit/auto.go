package buildkit

import (
	"context"
	"fmt"
	"sync"

	"github.com/slipway-dev/slipway/pkg/build"
	"github.com/slipway-dev/slipway/pkg/engine"
)

// Auto is the builder a run uses: the direct path when it is available,
// else cli, whose every build log then starts with why. It connects on the
// first build, so a run that reuses every image never dials BuildKit.
// Close ends the connection.
type Auto struct {
	Engine *engine.Engine
	// Builder is the buildx builder asked for ("" for the CLI's current one).
	Builder string
	CLI     build.Interface

	once   sync.Once
	direct *Builder
	avail  Availability
	note   string
}

func (a *Auto) open(ctx context.Context) {
	a.once.Do(func() {
		// The connection serves every later build, so it must not end
		// with the first build's context.
		a.direct, a.avail = Open(context.WithoutCancel(ctx), a.Engine, a.Builder, Options{Fallback: a.CLI})
		if a.direct == nil {
			a.note = "slipway: building through the engine's CLI: direct BuildKit path not available: " + a.avail.Reason
		}
	})
}

// Build builds req directly, or through the CLI when the direct path is
// not available.
func (a *Auto) Build(ctx context.Context, req build.Request) (build.Result, error) {
	a.open(ctx)
	if a.direct != nil {
		return a.direct.Build(ctx, req)
	}
	if req.Log != nil {
		fmt.Fprintln(req.Log, a.note)
	}
	return a.CLI.Build(ctx, req)
}

// Availability is what the first build found (zero before it).
func (a *Auto) Availability() Availability {
	a.once.Do(func() {}) // after the first build's open, or never
	return a.avail
}

// Close ends the direct connection, if one was made.
func (a *Auto) Close() error {
	a.once.Do(func() {}) // no build will open one after this
	if a.direct != nil {
		return a.direct.Close()
	}
	return nil
}

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

	mu     sync.Mutex
	opened bool // Open was tried (or Close came first)
	direct *Builder
	avail  Availability
	note   string
}

// open connects on the first call; later calls see what it found.
func (a *Auto) open(ctx context.Context) (*Builder, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.opened {
		a.opened = true
		// The connection serves every later build, so it must not end
		// with the first build's context.
		a.direct, a.avail = Open(context.WithoutCancel(ctx), a.Engine, a.Builder, Options{Fallback: a.CLI})
		if a.direct == nil {
			a.note = "slipway: building through the engine's CLI: direct BuildKit path not available: " + a.avail.Reason
		}
	}
	return a.direct, a.note
}

// Build builds req directly, or through the CLI when the direct path is
// not available.
func (a *Auto) Build(ctx context.Context, req build.Request) (build.Result, error) {
	direct, note := a.open(ctx)
	if direct != nil {
		return direct.Build(ctx, req)
	}
	if req.Log != nil && note != "" {
		fmt.Fprintln(req.Log, note)
	}
	return a.CLI.Build(ctx, req)
}

// Availability is what the first build found (zero before it).
func (a *Auto) Availability() Availability {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.avail
}

// Close ends the direct connection, if one was made; a build after Close
// goes through the CLI.
func (a *Auto) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.opened = true
	if a.direct != nil {
		err := a.direct.Close()
		a.direct = nil
		return err
	}
	return nil
}

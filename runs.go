package slipway

import (
	"context"

	"github.com/slipway-dev/slipway/internal/runlist"
)

// RunInfo is one run as Runs lists it: when, by whom, what it built, how
// it stands, and whether its images are still in the engine.
type RunInfo = runlist.Run

// RunStatus is how a run stands now (running, done, failed, interrupted,
// or died: stopped without recording an end).
type RunStatus = runlist.Status

// RunsOptions picks the runs.
type RunsOptions struct {
	StateDir string
	// Project and User, if set, keep only that project's, that user's runs.
	Project, User string
	// Limit keeps the newest Limit runs; 0 keeps all.
	Limit int
	// Engine is "docker", "podman" or "" to detect; it is asked which runs
	// still have images. Offline asks no engine (RunInfo.Images is nil).
	Engine  string
	Offline bool
}

// Runs lists the runs in the state folder, newest first. An engine that
// cannot be reached leaves RunInfo.Images nil rather than failing.
func Runs(ctx context.Context, o RunsOptions) ([]RunInfo, error) {
	ro := runlist.Options{StateDir: orState(o.StateDir), Project: o.Project, User: o.User, Limit: o.Limit}
	if !o.Offline {
		if eng, err := detect(ctx, o.Engine); err == nil {
			ro.Engine = eng
		} else if ctx.Err() != nil {
			return nil, err
		}
	}
	return runlist.List(ctx, ro)
}

package slipway

import (
	"context"

	"github.com/slipway-dev/slipway/internal/doctor"
)

// Diagnosis is what Doctor found: versions, the engine, buildx and its
// builders, Kind clusters and their nodes, the state folder, host build
// slots, the disk slipway's images take, and every problem with its fix.
type Diagnosis = doctor.Report

// DoctorOptions says what Doctor looks at (engine, clusters, folders).
type DoctorOptions = doctor.Options

// Problem is one thing Doctor found wrong, with the line that fixes it.
type Problem = doctor.Problem

// Problem severities: a Blocker stops a build or a load.
const (
	Blocker = doctor.Blocker
	Warning = doctor.Warning
)

// Doctor looks at the machine as a build and a load would meet it. It
// fails only when ctx ends; Diagnosis.Blocking says whether a build or a
// load would fail.
func Doctor(ctx context.Context, o DoctorOptions) (*Diagnosis, error) { return doctor.Run(ctx, o) }

// VersionInfo is slipway's version, commit and Go version, from the
// binary's build information.
type VersionInfo = doctor.Version

// ToolVersions are the engine's, buildx's and kind's versions.
type ToolVersions = doctor.Tools

// Version reads slipway's version from the running binary.
func Version() VersionInfo { return doctor.BuildVersion() }

// Tools asks the engine ("docker", "podman", "" for the first installed),
// buildx and kind for their versions.
func Tools(ctx context.Context, engine string) ToolVersions { return doctor.ToolVersions(ctx, engine) }

// Tool is one external program's version.
type Tool = doctor.Tool

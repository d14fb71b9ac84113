// Package slipway builds every container image of a multi-service repository
// in parallel, each under a unique tag, and hands back a map of what it made.
// The slipway CLI is a thin layer over this package; E2E suites call it
// directly, so developers, tests and CI share one build logic.
//
// A run has four stages. Each is its own call, so the build phase stays
// apart from the deploy phase; Build can also pipeline the later stages,
// starting each image's load or push as soon as that image is built.
//
//  1. Build: Build reads slipway.yaml, picks services (names or groups, with
//     what they depend on), gives each a unique tag
//     ({service}-{user}-{gitshort}-{unix} by default; Options.Tag
//     overrides) and builds them in dependency order — as many at
//     once as the CPUs and memory allow, more while builds only wait —
//     cancelling the rest on the first failure unless KeepGoing is set.
//     An unchanged service (same input digest) is re-tagged, not rebuilt.
//     Result.Refs maps service to image reference.
//  2. Load: Load puts images into a Kind cluster's nodes, sending only what
//     each node lacks (Options.Kind does it during Build).
//  3. Push: Options.Push sends each image to its registry as it is built,
//     with the engine's own credentials.
//  4. Clean: Result.Clean (or Clean, Prune) removes exactly what the run
//     made, in the engine and in every Kind node it reached, nothing else.
//
// This package is a façade; the stages live below it, each testable alone:
//
//   - pkg/config reads slipway.yaml; internal/plan turns it and the options
//     into a Plan (services, each one's claimed image reference, engine,
//     cluster); pkg/inputs digests what each build can see.
//   - internal/pipeline runs the plan: per service, reuse (re-tag an image
//     with the same input digest), else a build (pkg/build) once a slot
//     (pkg/slots) is free, in dependency order (pkg/schedule); then push
//     and load while other builds go on. Its recorder is the one writer of
//     the run record (pkg/run).
//   - internal/clusters finds Kind clusters and loads into them (pkg/kind
//     does the node work); internal/archive writes and reads archives.
//   - internal/inventory lists slipway's images in the engine and on nodes
//     and decides, from run records, what a clean or prune may remove.
//   - pkg/engine is the engine's CLI behind engine.Client; enginefake is
//     the in-memory engine the rules are unit-tested with.
//
// Everything that waits takes a context.Context; cancelling it stops every
// build, with no build process left behind. Options.Logs gives each service
// its own log writer; every log is also kept in the run's folder.
//
// Example:
//
//	res, err := slipway.Build(ctx, slipway.Options{Config: "path/to/repo", Services: []string{"e2e"}})
//	if err != nil {
//		return err // a *UsageError for bad input; ErrBuildFailed (wrapped) when a build failed
//	}
//	refs := res.Refs() // {"gateway": "localhost/fleet-gateway:gateway-jordi-abc123f-1734278400", ...}
//	if _, err := slipway.Load(ctx, slipway.LoadOptions{Kind: slipway.KindOptions{Cluster: "e2e"}}, refs["gateway"]); err != nil {
//		return err
//	}
//	defer res.Clean(context.WithoutCancel(ctx), "e2e")
package slipway

import "github.com/slipway-dev/slipway/internal/errs"

// UsageError is bad input — an unknown service, an invalid tag, a broken
// config, no engine — found before any work starts. The CLI exits 2 on it.
type UsageError = errs.UsageError

func usage(err error) error { return errs.Usage(err) }

func usagef(format string, args ...any) error { return errs.Usagef(format, args...) }

// ErrBuildFailed is returned (wrapped) when at least one build failed; the
// Result still lists every service.
var ErrBuildFailed = errs.ErrBuildFailed

// IsUsage reports whether err is bad input rather than a failed build.
func IsUsage(err error) bool { return errs.IsUsage(err) }

// Package slipway builds every container image of a multi-service repository
// in parallel, each under a unique tag, and hands back a map of what it made.
// The slipway CLI is a thin layer over this package; E2E suites call it
// directly.
//
// A run has four stages, each its own call so that build and deploy stay apart:
//
//  1. Build: read slipway.yaml, pick services (names or groups), give each a
//     unique tag ({service}-{user}-{gitshort}-{unix} by default, --tag or
//     IMAGE_TAG to override) and build them in dependency order, at most
//     Jobs at a time, cancelling the rest on the first failure unless
//     KeepGoing is set.
//  2. Load: put the built images into a Kind cluster's nodes.
//  3. Push: send them to a registry.
//  4. Clean: remove exactly what the run made, nothing else.
//
// Example:
//
//	res, err := slipway.Build(ctx, slipway.Options{Config: "path/to/repo", Services: []string{"e2e"}})
//	if err != nil { ... }
//	for svc, img := range res.Images { fmt.Println(svc, img.Ref) }
package slipway

import (
	"errors"
	"fmt"
)

// UsageError is bad input — an unknown service, an invalid tag, a broken
// config, no engine — found before any work starts. The CLI exits 2 on it.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(err error) error { return &UsageError{Err: err} }

func usagef(format string, args ...any) error { return usage(fmt.Errorf(format, args...)) }

// ErrBuildFailed is returned (wrapped) when at least one build failed; the
// Result still lists every service.
var ErrBuildFailed = errors.New("build failed")

// IsUsage reports whether err is bad input rather than a failed build.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}

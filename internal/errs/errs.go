// Package errs holds the two kinds of failure every stage reports the same
// way: bad input (a *UsageError, exit 2, found before any work starts) and
// a build that failed (ErrBuildFailed, exit 1).
package errs

import (
	"errors"
	"fmt"
)

// UsageError is bad input — an unknown service, an invalid tag, a broken
// config, no engine — found before any work starts. The CLI exits 2 on it.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usage marks err as bad input.
func Usage(err error) error { return &UsageError{Err: err} }

// Usagef is Usage of a formatted error.
func Usagef(format string, args ...any) error { return Usage(fmt.Errorf(format, args...)) }

// IsUsage reports whether err is bad input rather than a failed build.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}

// ErrBuildFailed is returned (wrapped) when at least one build failed; the
// Result still lists every service.
var ErrBuildFailed = errors.New("build failed")

// Package cli holds what every slipway command shares: global flags, exit
// codes and the streams commands write to.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/slipway-dev/slipway"
)

// Exit codes.
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitInterrupted = 130
)

// Streams are where a command reads and writes.
type Streams struct {
	Out, Err io.Writer
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Globals are flags every command takes.
type Globals struct {
	File string
}

// ExitError carries the process exit code for an error already reported.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// Code maps an error to the exit code: usage 2, interrupted 130, else 1.
func Code(ctx context.Context, err error) int {
	var ee *ExitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.Code
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		// Before usage: a Ctrl-C while the engine is probed makes the probe
		// fail, and that is an interruption, not bad input.
		return ExitInterrupted
	case slipway.IsUsage(err):
		return ExitUsage
	}
	return ExitFailed
}

// UsageErr marks a flag problem found by a command as bad usage.
func UsageErr(format string, args ...any) error {
	return &slipway.UsageError{Err: fmt.Errorf(format, args...)}
}

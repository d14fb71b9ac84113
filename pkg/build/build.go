// Package build builds one image: a real builder over the engine's CLI plus
// small decorators (Limiter, Reuser) that wrap the same Interface.
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/progress"
	"github.com/slipway-dev/slipway/pkg/slots"
)

// Request is one service's build.
type Request struct {
	Service string
	Spec    engine.BuildSpec
	Log     io.Writer // receives the build's whole output
	LogPath string    // where that output is kept, for error messages
	// OnStep, if set, hears each build step start and end (a builder that
	// sees steps: the direct BuildKit builder; the CLI builder does not).
	OnStep func(Step)
}

// Step is one build step (a BuildKit vertex) as the builder saw it.
type Step struct {
	ID   string // the vertex digest
	Name string // e.g. "[2/3] RUN make"
	// Cached is set when BuildKit reused the step's result instead of running it.
	Cached             bool
	Started, Completed time.Time // zero until it happens
	Error              string
}

// Done reports whether the step has ended.
func (s Step) Done() bool { return !s.Completed.IsZero() }

// Compute reports whether the step runs the build's own command (a
// Dockerfile RUN, named like "[stage 2/3] RUN make"): what takes a build's
// CPU and memory, unlike loading the definition, transferring the context,
// copying files or exporting the image, where it waits on the builder.
func (s Step) Compute() bool {
	return strings.HasPrefix(s.Name, "RUN ") || strings.Contains(s.Name, "] RUN ")
}

// Final reports whether the step is the export of the image ("exporting
// to image"), which comes after every RUN.
func (s Step) Final() bool { return strings.HasPrefix(s.Name, "exporting ") }

// event is the step as the build slots see it.
func (s Step) event() slots.StepEvent {
	return slots.StepEvent{ID: s.ID, Compute: s.Compute(), Final: s.Final(), Cached: s.Cached, Started: !s.Started.IsZero(), Done: s.Done()}
}

// Result is what a build made.
type Result struct {
	ID string // image ID, sha256:...
	// Reused is set when an existing image stood in for the build.
	Reused bool
	// Steps are the build's steps in the order they started, when the
	// builder sees them (the direct BuildKit builder).
	Steps []Step
	// Via says which builder made the image ("buildkit" for the direct
	// path, "cli" for the engine's build command).
	Via string
}

// Interface builds images; decorators wrap it.
type Interface interface {
	Build(ctx context.Context, req Request) (Result, error)
}

// TailLines is how many log lines a failure report carries.
const TailLines = 20

// Builder runs the engine's build command.
type Builder struct {
	Engine *engine.Engine
	// TempDir holds the image-ID file while a build runs; it is removed after.
	TempDir string
}

// Build runs the build and returns the image ID the engine reports.
func (b *Builder) Build(ctx context.Context, req Request) (Result, error) {
	iid, err := os.CreateTemp(b.TempDir, "iid-"+req.Service+"-*")
	if err != nil {
		return Result{}, fmt.Errorf("building %s: %w", req.Service, err)
	}
	iid.Close()
	defer os.Remove(iid.Name())
	spec := req.Spec
	spec.IIDFile = iid.Name()
	argv, err := b.Engine.BuildArgv(spec)
	if err != nil {
		return Result{}, fmt.Errorf("building %s: %w", req.Service, err)
	}
	// Shown argv never carries build-arg values: they may be secrets.
	shown := append([]string{filepath.Base(b.Engine.Bin)}, engine.RedactArgv(argv)...)

	tail := &progress.Tail{N: TailLines}
	// A log output that fails (a full disk, a caller's writer) is dropped;
	// the build's output is still drained, and its exit status alone says
	// whether it worked.
	out := NewSinks(req.Log, tail)
	fmt.Fprintf(out, "$ %s\n", strings.Join(shown, " "))
	cmd := engine.GroupCommand(ctx, b.Engine.Bin, argv...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=1", "BUILDX_NO_DEFAULT_ATTESTATIONS=1")
	runErr := engine.RunGroup(cmd)
	if runErr != nil {
		if ctx.Err() != nil {
			return Result{}, fmt.Errorf("building %s: %w", req.Service, context.Cause(ctx))
		}
		f := &Failure{Service: req.Service, Argv: shown,
			ExitCode: -1, Tail: tail.Lines(), Log: req.LogPath, Err: runErr}
		var ee *exec.ExitError
		if errors.As(runErr, &ee) {
			f.ExitCode = ee.ExitCode()
		}
		return Result{}, f
	}
	id, err := os.ReadFile(iid.Name())
	if err != nil || len(strings.TrimSpace(string(id))) == 0 {
		return Result{}, fmt.Errorf("building %s: the engine reported no image ID", req.Service)
	}
	return Result{ID: strings.TrimSpace(string(id)), Via: "cli"}, nil
}

// Sinks is a writer to several outputs that drops one that fails instead of
// failing: give the log file, the progress line writer and Options.Logs to
// NewSinks (not io.MultiWriter) for Request.Log.
type Sinks = engine.Sinks

// NewSinks returns a Sinks writing to every non-nil w.
func NewSinks(ws ...io.Writer) *Sinks { return engine.NewSinks(ws...) }

// Failure is a build command that ended badly: what ran, how it ended, and
// where to look.
type Failure struct {
	Service string
	// Argv is the command as shown: build-arg values elided.
	Argv     []string
	ExitCode int
	Tail     []string
	Log      string
	Err      error
	// Step is the build step that failed, when the builder knows it (the
	// direct BuildKit builder); Argv is then the equivalent command that
	// reproduces the build.
	Step string
}

func (f *Failure) Error() string {
	if f.Step != "" {
		return fmt.Sprintf("%s: build failed: step `%s` exited with status %d (log: %s; to reproduce: `%s`)",
			f.Service, f.Step, f.ExitCode, f.Log, strings.Join(f.Argv, " "))
	}
	return fmt.Sprintf("%s: build failed: `%s` exited with status %d (log: %s)",
		f.Service, strings.Join(f.Argv, " "), f.ExitCode, f.Log)
}

func (f *Failure) Unwrap() error { return f.Err }

// Detail is the multi-line report: the error, then the last log lines.
func (f *Failure) Detail() string {
	var b strings.Builder
	b.WriteString(f.Error())
	fmt.Fprintf(&b, "\n  last %d log lines of %s:\n", len(f.Tail), f.Service)
	for _, l := range f.Tail {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

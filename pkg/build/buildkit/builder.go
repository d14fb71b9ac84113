package buildkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/docker/cli/cli/config"
	"github.com/moby/buildkit/client"
	gatewaypb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/tonistiigi/fsutil"

	"github.com/slipway-dev/slipway/pkg/build"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/progress"
)

// Builder builds each request as one solve on a shared BuildKit client.
// It is safe for concurrent use; wrap it in build.Limiter for slots.
type Builder struct {
	c     *client.Client
	t     target
	eng   *engine.Engine
	avail Availability
	// fallback builds what the direct path cannot (see unsupported).
	fallback build.Interface

	authOnce sync.Once
	auth     session.Attachable
}

// Options are Open's settings.
type Options struct {
	// Fallback builds the requests the direct path cannot take (the
	// engine's CLI builder); nil fails them instead.
	Fallback build.Interface
}

// Open connects to the BuildKit that builds for eng on builder ("" for
// the one the CLI would use). When the direct path is not available it
// returns nil and says why; the caller builds through the CLI then.
func Open(ctx context.Context, eng *engine.Engine, builder string, o Options) (*Builder, Availability) {
	t, err := resolve(eng, builder)
	if err != nil {
		return nil, Availability{Reason: err.Error()}
	}
	c, version, err := t.open(ctx)
	if err != nil {
		return nil, Availability{Kind: t.kind, Via: t.via, Reason: err.Error()}
	}
	av := Availability{Direct: true, Kind: t.kind, Via: t.via, Version: version}
	return &Builder{c: c, t: t, eng: eng, avail: av, fallback: o.Fallback}, av
}

// Availability is what Open found.
func (b *Builder) Availability() Availability { return b.avail }

// Close ends the connection.
func (b *Builder) Close() error { return b.c.Close() }

// unsupported says why req must go through the CLI instead, or "".
func (b *Builder) unsupported(s engine.BuildSpec) string {
	switch {
	case b.t.kind == Docker && s.PushOnly:
		return "pushing straight from the build needs buildx on the docker driver"
	case b.t.kind == Docker && strings.Contains(s.Platform, ","):
		return "the docker driver's image store holds one platform per image"
	case b.t.kind == Docker && len(s.Contexts) > 0:
		// Named contexts need a frontend that knows them; buildx decides
		// how to pass them to the engine's BuildKit.
		return "named build contexts on the docker driver go through buildx"
	case b.t.kind == Docker && slices.ContainsFunc(s.CacheTo, func(c engine.Cache) bool { return c.Type != "inline" }):
		// The engine's BuildKit exports inline cache only; buildx says
		// so in its own words.
		return "the docker driver exports inline cache only"
	}
	return ""
}

// Build solves req's Dockerfile and exports the image to the engine (or
// pushes it, for a push-only build on a remote builder).
func (b *Builder) Build(ctx context.Context, req build.Request) (build.Result, error) {
	spec := req.Spec
	if why := b.unsupported(spec); why != "" {
		if b.fallback == nil {
			return build.Result{}, fmt.Errorf("building %s: %s: %w", req.Service, why, errUnsupported)
		}
		if req.Log != nil {
			fmt.Fprintf(req.Log, "slipway: building through the engine's CLI: %s\n", why)
		}
		return b.fallback.Build(ctx, req)
	}
	tail := &progress.Tail{N: build.TailLines}
	out := build.NewSinks(req.Log, tail)
	// The equivalent command is buildx's, whether or not the plugin is
	// installed: it is what a user would run to reproduce the build.
	bx := *b.eng
	bx.Buildx = true
	argv, argvErr := bx.BuildArgv(spec)
	shown := append([]string{filepath.Base(b.eng.Bin)}, engine.RedactArgv(argv)...)
	if argvErr != nil {
		return build.Result{}, fmt.Errorf("building %s: %w", req.Service, argvErr)
	}
	fmt.Fprintf(out, "# BuildKit solve via %s; the same build as `%s`\n", b.t.via, strings.Join(shown, " "))

	opt, load, err := b.solveOpt(ctx, spec)
	if err != nil {
		return build.Result{}, fmt.Errorf("building %s: %w", req.Service, err)
	}

	ch := make(chan *client.SolveStatus)
	disp := make(chan *client.SolveStatus)
	steps := &stepTracker{on: req.OnStep}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(disp)
		for st := range ch {
			steps.update(st)
			disp <- st
		}
	}()
	go func() {
		defer wg.Done()
		d, err := progressui.NewDisplay(out, progressui.PlainMode)
		if err != nil {
			for range disp { //nolint:revive // drain
			}
			return
		}
		// The display must drain the stream to its end, cancelled or not.
		_, _ = d.UpdateFrom(context.WithoutCancel(ctx), disp)
	}()
	resp, solveErr := b.c.Solve(ctx, nil, opt, ch)
	wg.Wait()
	loadErr := load.wait()
	if solveErr == nil && loadErr != nil {
		solveErr = loadErr
	}
	res := build.Result{Steps: steps.list(), Via: "buildkit"}
	if solveErr != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("building %s: %w", req.Service, context.Cause(ctx))
		}
		fmt.Fprintf(out, "ERROR: %v\n", solveErr)
		f := &build.Failure{Service: req.Service, Argv: shown, ExitCode: exitCode(solveErr),
			Tail: tail.Lines(), Log: req.LogPath, Err: solveErr, Step: steps.failed()}
		if f.Step == "" {
			f.Step = "solve"
		}
		return res, f
	}
	res.ID = imageID(resp.ExporterResponse)
	if res.ID == "" {
		return res, fmt.Errorf("building %s: BuildKit reported no image ID", req.Service)
	}
	return res, nil
}

// imageID is the image's ID as the engine knows it: the config digest
// (older daemons give only containerimage.digest, which is the same for
// the moby exporter), as buildx's --iidfile writes it.
func imageID(r map[string]string) string {
	if id := r["containerimage.config.digest"]; id != "" {
		return id
	}
	return r["containerimage.digest"]
}

var exitRe = regexp.MustCompile(`exit code: (\d+)`)

// exitCode is the failed process's status: a typed one from newer
// BuildKits, else the "exit code: N" that every version writes.
func exitCode(err error) int {
	var ee *gatewaypb.ExitError
	if errors.As(err, &ee) {
		return int(ee.ExitCode)
	}
	if m := exitRe.FindAllStringSubmatch(err.Error(), -1); len(m) > 0 {
		if n, err := strconv.Atoi(m[len(m)-1][1]); err == nil {
			return n
		}
	}
	return 1
}

// loading is an image archive on its way into the engine (a remote
// builder's --load); wait returns how that went.
type loading struct {
	mu   sync.Mutex
	done chan error // nil until the exporter starts writing
}

func (l *loading) wait() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	done := l.done
	l.mu.Unlock()
	if done == nil {
		return nil // the solve failed before exporting
	}
	return <-done
}

// solveOpt is the dockerfile frontend's request for spec, set up as
// buildx sets it up for the same flags.
func (b *Builder) solveOpt(ctx context.Context, s engine.BuildSpec) (client.SolveOpt, *loading, error) {
	dockerfile, err := filepath.Abs(s.Dockerfile)
	if err != nil {
		return client.SolveOpt{}, nil, err
	}
	ctxFS, err := fsutil.NewFS(s.Context)
	if err != nil {
		return client.SolveOpt{}, nil, fmt.Errorf("build context %s: %w", s.Context, err)
	}
	dfFS, err := fsutil.NewFS(filepath.Dir(dockerfile))
	if err != nil {
		return client.SolveOpt{}, nil, fmt.Errorf("dockerfile folder %s: %w", filepath.Dir(dockerfile), err)
	}
	attrs := map[string]string{"filename": filepath.Base(dockerfile)}
	if s.Target != "" {
		attrs["target"] = s.Target
	}
	if s.Platform != "" {
		attrs["platform"] = s.Platform
	}
	for k, v := range s.Args {
		attrs["build-arg:"+k] = v
	}
	for k, v := range s.Labels {
		attrs["label:"+k] = v
	}
	if s.NoCache {
		attrs["no-cache"] = ""
	}
	if b.t.kind == Docker {
		// As buildx's docker driver: a FROM on an image the daemon has
		// (a base image, another service built this run) uses it.
		attrs["image-resolve-mode"] = pb.AttrImageResolveModePreferLocal
	}
	mounts := map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS}
	for _, k := range slices.Sorted(maps.Keys(s.Contexts)) {
		if err := namedContext(k, s.Contexts[k], attrs, mounts); err != nil {
			return client.SolveOpt{}, nil, err
		}
	}
	opt := client.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrs,
		LocalMounts:   mounts,
		Session:       []session.Attachable{b.authProvider()},
	}
	// Cache imports and exports as buildx passes them; a local folder
	// goes through the client's session, which Solve sets up itself.
	for _, c := range s.CacheFrom {
		opt.CacheImports = append(opt.CacheImports, client.CacheOptionsEntry{Type: c.Type, Attrs: maps.Clone(c.Attrs)})
	}
	for _, c := range s.CacheTo {
		opt.CacheExports = append(opt.CacheExports, client.CacheOptionsEntry{Type: c.Type, Attrs: maps.Clone(c.Attrs)})
		if c.Type == "inline" {
			// Older BuildKits (a 20.10 engine's) take inline cache from
			// the frontend's build arg only, as `docker build` passes it.
			attrs["build-arg:BUILDKIT_INLINE_CACHE"] = "1"
		}
	}
	if len(s.Secrets) > 0 {
		var srcs []secretsprovider.Source
		for _, sec := range s.Secrets {
			if (sec.Env == "") == (sec.File == "") {
				return client.SolveOpt{}, nil, fmt.Errorf("build secret %s: give exactly one of an environment variable or a file", sec.ID)
			}
			srcs = append(srcs, secretsprovider.Source{ID: sec.ID, Env: sec.Env, FilePath: sec.File})
		}
		store, err := secretsprovider.NewStore(srcs)
		if err != nil {
			return client.SolveOpt{}, nil, fmt.Errorf("build secrets: %w", err)
		}
		opt.Session = append(opt.Session, secretsprovider.NewSecretProvider(store))
	}
	name := strings.Join(s.Tags, ",")
	var load *loading
	switch {
	case b.t.kind == Docker:
		opt.Exports = []client.ExportEntry{{Type: "moby", Attrs: map[string]string{"name": name}}}
	case s.PushOnly:
		a := map[string]string{"name": name, "push": "true"}
		if s.Insecure {
			a["registry.insecure"] = "true"
		}
		opt.Exports = []client.ExportEntry{{Type: client.ExporterImage, Attrs: a}}
	default:
		// --load from a remote builder: its archive streams into the engine.
		load = newLoad(ctx, b.eng, &opt, name)
	}
	return opt, load, nil
}

// newLoad sets up the docker exporter of a remote build so the archive
// streams into the engine (`docker load`) with no temp file.
func newLoad(ctx context.Context, eng *engine.Engine, opt *client.SolveOpt, name string) *loading {
	l := &loading{}
	opt.Exports = []client.ExportEntry{{Type: client.ExporterDocker, Attrs: map[string]string{"name": name},
		Output: func(map[string]string) (io.WriteCloser, error) {
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			l.mu.Lock()
			l.done = done
			l.mu.Unlock()
			go func() {
				_, err := eng.Load(ctx, pr)
				_ = pr.CloseWithError(err)
				done <- err
			}()
			return pw, nil
		}}}
	return l
}

// namedContext passes one named build context the way buildx does: a
// folder as a local mount, anything else (docker-image://, a URL) as is.
func namedContext(name, src string, attrs map[string]string, mounts map[string]fsutil.FS) error {
	if strings.Contains(src, "://") || strings.HasPrefix(src, "target:") {
		attrs["context:"+name] = src
		return nil
	}
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("build context %s: %w", name, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("build context %s: %s is not a folder", name, src)
	}
	fs, err := fsutil.NewFS(src)
	if err != nil {
		return fmt.Errorf("build context %s: %w", name, err)
	}
	local := name
	if name == "context" || name == "dockerfile" {
		local = "_" + name
	}
	mounts[local] = fs
	attrs["context:"+name] = "local:" + local
	return nil
}

// authProvider hands BuildKit the registry credentials of the docker
// CLI's config (for pulls and pushes), read once per builder.
func (b *Builder) authProvider() session.Attachable {
	b.authOnce.Do(func() {
		cfg := config.LoadDefaultConfigFile(io.Discard)
		b.auth = authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
			AuthConfigProvider: authprovider.LoadAuthConfig(cfg),
		})
	})
	return b.auth
}

// Package engine drives a container engine's CLI — Docker (through buildx
// when present) or Podman — with argv, never through a shell.
package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ErrNotFound is returned by Inspect for an image the engine does not have.
var ErrNotFound = errors.New("image not found")

// Engine is one container engine reached through its CLI.
type Engine struct {
	Name   string // "docker" or "podman"
	Bin    string // path of the CLI
	Buildx bool   // docker only: build through `docker buildx build --load`
	// API, when set, is the Docker daemon's API endpoint: image look-ups
	// and tags go there instead of through a CLI process each (Detect sets
	// it when the daemon answers on it).
	API *Endpoint
}

// probeTimeout bounds one engine's answer to detection.
const probeTimeout = 2 * time.Minute

// errSlow is a probe that ran out of time: the engine is there but busy.
var errSlow = errors.New("engine did not answer")

// Detect finds the engine to use: want ("docker", "podman") or, when empty,
// a reachable Docker daemon, else Podman.
func Detect(ctx context.Context, want string) (*Engine, error) {
	var names []string
	switch want {
	case "", "auto":
		names = []string{"docker", "podman"}
	case "docker", "podman":
		names = []string{want}
	default:
		return nil, fmt.Errorf("unknown engine %q (want docker or podman)", want)
	}
	var problems []string
	for _, n := range names {
		e, err := probe(ctx, n)
		if err == nil {
			return e, nil
		}
		if ctx.Err() != nil {
			// Interrupted (Ctrl-C), not unreachable: say so, so the caller
			// exits as cancelled rather than with a usage error.
			return nil, fmt.Errorf("detecting the container engine: %w", context.Cause(ctx))
		}
		if errors.Is(err, errSlow) {
			// A daemon that is there but busy is not a reason to build with
			// another engine, whose image store is a different one.
			return nil, err
		}
		problems = append(problems, err.Error())
	}
	return nil, fmt.Errorf("no container engine reachable: %s", strings.Join(problems, "; "))
}

func probe(ctx context.Context, name string) (*Engine, error) {
	bin, err := exec.LookPath(name)
	if err != nil {
		return nil, fmt.Errorf("%s: not installed", name)
	}
	// An absent daemon fails at once (no socket); a present one may be slow
	// to answer on a loaded machine (a hundred runs starting together), so
	// the bound is generous and running out of it is not "unreachable".
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	e := &Engine{Name: name, Bin: bin}
	if name == "docker" {
		// The daemon's own API answers in a millisecond where `docker
		// version` takes a process start; the CLI stays the way when the
		// endpoint is one slipway does not speak.
		if ep, err := DockerEndpoint(); err == nil && ep.ping(pctx) == nil {
			e.API = &ep
			return e, nil
		}
	}
	slow := func() error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: %w after %s", name, errSlow, probeTimeout)
	}
	if _, err := e.output(pctx, "version", "--format", "{{.Server.Version}}"); err != nil && name == "docker" {
		if pctx.Err() != nil {
			return nil, slow()
		}
		return nil, fmt.Errorf("docker: daemon not reachable (%v)", err)
	}
	if name == "podman" {
		if _, err := e.output(pctx, "info", "--format", "{{.Host.Arch}}"); err != nil {
			if pctx.Err() != nil {
				return nil, slow()
			}
			return nil, fmt.Errorf("podman: not working (%v)", err)
		}
	}
	return e, nil
}

// DetectBuildx sets Buildx when the docker buildx plugin answers; only
// builds need it, so Detect leaves it to them.
func (e *Engine) DetectBuildx(ctx context.Context) {
	if e.Name != "docker" {
		return
	}
	if buildxPlugin() != "" {
		// Found where the CLI looks for it: no need to start two
		// processes (docker, then the plugin) on every run to ask.
		e.Buildx = true
		return
	}
	_, err := e.output(ctx, "buildx", "version")
	e.Buildx = err == nil
}

// buildxPlugin is the docker-buildx plugin executable in one of the
// folders the docker CLI searches ($DOCKER_CONFIG/cli-plugins first), or "".
func buildxPlugin() string {
	dirs := []string{filepath.Join(dockerConfigDir(), "cli-plugins"),
		"/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
		"/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins"}
	for _, d := range dirs {
		p := filepath.Join(d, "docker-buildx")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// InspectAll inspects refs in one call; any missing one is an error that
// names it.
func (e *Engine) InspectAll(ctx context.Context, refs ...string) ([]*Image, error) {
	out, err := e.output(ctx, append([]string{"image", "inspect"}, refs...)...)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
		}
		return nil, err
	}
	var raw []inspectJSON
	if err := json.Unmarshal(out, &raw); err != nil || len(raw) != len(refs) {
		return nil, fmt.Errorf("inspecting images: unreadable answer from %s", e.Name)
	}
	imgs := make([]*Image, len(raw))
	for i, r := range raw {
		imgs[i] = r.image()
	}
	return imgs, nil
}

// output runs the CLI and returns stdout; a failure carries stderr.
func (e *Engine) output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, e.Bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return out, fmt.Errorf("%s %s: %s", e.Name, strings.Join(args, " "), msg)
	}
	return out, nil
}

// Image is what slipway needs to know of an image in the engine.
type Image struct {
	ID       string
	RepoTags []string
	Labels   map[string]string
	Created  time.Time
	Size     int64
	// Layers are the uncompressed layer digests (diff IDs), base first.
	Layers []string
}

type inspectJSON struct {
	ID       string   `json:"Id"`
	RepoTags []string `json:"RepoTags"`
	Created  string   `json:"Created"`
	Size     int64    `json:"Size"`
	RootFS   struct {
		Layers []string `json:"Layers"`
	} `json:"RootFS"`
	Config struct {
		Labels map[string]string `json:"Labels"`
	} `json:"Config"`
	Labels map[string]string `json:"Labels"` // podman puts them here too
}

// Inspect returns the image ref names, or ErrNotFound.
func (e *Engine) Inspect(ctx context.Context, ref string) (*Image, error) {
	if e.API != nil {
		return e.API.apiInspect(ctx, ref)
	}
	out, err := e.output(ctx, "image", "inspect", ref)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%s: %w", ref, ErrNotFound)
		}
		return nil, err
	}
	var raw []inspectJSON
	if err := json.Unmarshal(out, &raw); err != nil || len(raw) == 0 {
		return nil, fmt.Errorf("inspecting %s: unreadable answer from %s", ref, e.Name)
	}
	return raw[0].image(), nil
}

func isNotFound(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "no such image") || strings.Contains(s, "image not known") ||
		strings.Contains(s, "failed to find image") || strings.Contains(s, "not found")
}

func normID(id string) string {
	if id != "" && !strings.Contains(id, ":") {
		return "sha256:" + id
	}
	return id
}

// Tag gives src the name dst.
func (e *Engine) Tag(ctx context.Context, src, dst string) error {
	if e.API != nil {
		return e.API.apiTag(ctx, src, dst)
	}
	_, err := e.output(ctx, "tag", src, dst)
	return err
}

// Untag removes names only; content another name still uses stays.
func (e *Engine) Untag(ctx context.Context, refs ...string) error {
	if len(refs) == 0 {
		return nil
	}
	_, err := e.output(ctx, append([]string{"image", "rm"}, refs...)...)
	return err
}

// SaveArgv is the argv (without the binary) that saves refs as one
// Docker-format archive. Podman writes only the first image unless asked
// for a multi-image archive (the other names would become its tags). A ref
// starting with '-' is refused, and "--" ends the options, so no ref is
// ever read as a flag.
func (e *Engine) SaveArgv(refs ...string) ([]string, error) {
	if len(refs) == 0 {
		return nil, errors.New("saving images: no image named")
	}
	for _, r := range refs {
		if r == "" || strings.HasPrefix(r, "-") {
			return nil, fmt.Errorf("saving images: %q is not an image reference", r)
		}
	}
	a := []string{"save"}
	if e.Name == "podman" {
		a = append(a, "--format", "docker-archive", "--multi-image-archive")
	}
	a = append(a, "--")
	return append(a, refs...), nil
}

// Save streams an image archive of refs to w (`docker save`, or the API's
// GET /images/get), with no temp file.
func (e *Engine) Save(ctx context.Context, w io.Writer, refs ...string) error {
	argv, err := e.SaveArgv(refs...)
	if err != nil {
		return err
	}
	if e.API != nil {
		return e.API.apiSave(ctx, w, refs)
	}
	var stderr bytes.Buffer
	out := &firstErrWriter{w: w}
	cmd := GroupCommand(ctx, e.Bin, argv...)
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := RunGroup(cmd); err != nil {
		if out.err != nil {
			// The reader went away (a full disk, a dead node): that is the
			// cause; the engine's broken pipe only follows from it.
			return fmt.Errorf("%s save %s: writing the archive: %w", e.Name, strings.Join(refs, " "), out.err)
		}
		return fmt.Errorf("%s save %s: %v: %s", e.Name, strings.Join(refs, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// firstErrWriter remembers the first error of w.
type firstErrWriter struct {
	w   io.Writer
	err error
}

func (f *firstErrWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil && f.err == nil {
		f.err = err
	}
	return n, err
}

// Load reads an image archive (as Save writes it) into the engine and
// returns the references it loaded.
func (e *Engine) Load(ctx context.Context, r io.Reader) ([]string, error) {
	var stdout, stderr bytes.Buffer
	cmd := GroupCommand(ctx, e.Bin, "load")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, &stdout, &stderr
	if err := RunGroup(cmd); err != nil {
		return nil, fmt.Errorf("%s load: %v: %s", e.Name, err, strings.TrimSpace(stderr.String()))
	}
	var refs []string
	for _, l := range strings.Split(stdout.String(), "\n") {
		if _, ref, ok := strings.Cut(l, "Loaded image: "); ok {
			refs = append(refs, strings.TrimSpace(ref))
		}
	}
	return refs, nil
}

package engine

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// BuildSpec is one image build, engine-neutral.
type BuildSpec struct {
	Dockerfile string
	Context    string
	Target     string
	Platform   string
	Args       map[string]string
	Labels     map[string]string
	Tags       []string // full references
	NoCache    bool
	IIDFile    string // where the engine writes the image ID
	// Builder is a named buildx builder (e.g. a remote BuildKit); "" is the default.
	Builder string
	// PushOnly sends the result straight to the registry instead of
	// loading it into the engine: multi-platform images, which the local
	// engine cannot hold. Insecure allows a plain-HTTP registry.
	PushOnly bool
	Insecure bool
	// Secrets are BuildKit secrets (RUN --mount=type=secret); only their
	// sources are on the command line, never their values.
	Secrets []Secret
	// Contexts are named build contexts (name -> path, image or URL), for
	// FROM/COPY --from=name: buildx and podman only.
	Contexts map[string]string
	// CacheFrom and CacheTo are BuildKit cache imports and exports, as
	// buildx's --cache-from/--cache-to take them; they hold no
	// credentials (the builder reads the engine's login store).
	CacheFrom, CacheTo []Cache
}

// Cache is one BuildKit cache import or export: a backend type
// (registry, inline, local) and its attributes (ref, mode, src, dest...).
type Cache struct {
	Type  string
	Attrs map[string]string
}

// String is c as buildx's --cache-from/--cache-to take it.
func (c Cache) String() string {
	fields := []string{"type=" + c.Type}
	for _, k := range slices.Sorted(maps.Keys(c.Attrs)) {
		fields = append(fields, k+"="+c.Attrs[k])
	}
	for i, f := range fields {
		if strings.ContainsAny(f, ",\"\n") {
			fields[i] = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
		}
	}
	return strings.Join(fields, ",")
}

// ErrCacheNeedsBuildx is BuildArgv's answer to a cache spec the engine's
// own build command cannot take (anything but a registry image without
// buildx).
var ErrCacheNeedsBuildx = errors.New("this build cache setting needs docker buildx")

// cacheArgs are the cache flags of s for the engine's build command.
func (e *Engine) cacheArgs(s BuildSpec) ([]string, error) {
	var a []string
	for _, dir := range []struct {
		flag string
		list []Cache
	}{{"--cache-from", s.CacheFrom}, {"--cache-to", s.CacheTo}} {
		for _, c := range dir.list {
			switch {
			case e.Name == "docker" && e.Buildx:
				a = append(a, dir.flag, c.String())
			case c.Type == "registry" && (e.Name != "docker" || dir.flag == "--cache-from"):
				// The classic builder and podman take an image (podman:
				// a repository) only.
				a = append(a, dir.flag, c.Attrs["ref"])
			default:
				return nil, fmt.Errorf("%s %s on %s: %w", dir.flag, c, e.Name, ErrCacheNeedsBuildx)
			}
		}
	}
	return a, nil
}

// Secret is one BuildKit secret: its ID, read from the environment
// variable Env or from File (exactly one), by the engine, not slipway.
type Secret struct {
	ID, Env, File string
}

// arg is the --secret value for s.
func (s Secret) arg(engine string) (string, error) {
	if s.ID == "" || strings.ContainsAny(s.ID, ",=\"\n") {
		return "", fmt.Errorf("build secret id %q: want a name without , = or quotes", s.ID)
	}
	if (s.Env == "") == (s.File == "") {
		return "", fmt.Errorf("build secret %s: give exactly one of an environment variable or a file", s.ID)
	}
	src := s.File
	if s.Env != "" {
		src = s.Env
	}
	if strings.ContainsAny(src, ",\"\n") {
		return "", fmt.Errorf("build secret %s: source %q has a comma or quote, which the engine cannot read", s.ID, src)
	}
	switch {
	case s.File != "":
		return "id=" + s.ID + ",src=" + s.File, nil
	case engine == "podman":
		// Podman (buildah) reads an environment secret as type=env,src=.
		return "id=" + s.ID + ",type=env,src=" + s.Env, nil
	default:
		return "id=" + s.ID + ",env=" + s.Env, nil
	}
}

// ErrNoNamedContexts is BuildArgv's answer to named build contexts on an
// engine that cannot take them (docker without buildx).
var ErrNoNamedContexts = errors.New("named build contexts need docker buildx or podman")

// BuildArgv is the exact argv (without the binary) that builds spec. Show
// it with ShowArgv: build-arg values may be secrets.
func (e *Engine) BuildArgv(s BuildSpec) ([]string, error) {
	var a []string
	switch {
	case e.Name == "docker" && e.Buildx:
		a = []string{"buildx", "build", "--progress=plain"}
		if s.Builder != "" {
			a = append(a, "--builder", s.Builder)
		}
		if s.PushOnly {
			out := "type=image,push=true"
			if s.Insecure {
				out += ",registry.insecure=true"
			}
			a = append(a, "--output", out)
		} else {
			a = append(a, "--load")
		}
	case e.Name == "docker":
		a = []string{"build"}
	default:
		a = []string{"build", "--layers"}
	}
	a = append(a, "-f", s.Dockerfile)
	for _, t := range s.Tags {
		a = append(a, "-t", t)
	}
	if s.Target != "" {
		a = append(a, "--target", s.Target)
	}
	if s.Platform != "" {
		a = append(a, "--platform", s.Platform)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Args)) {
		a = append(a, "--build-arg", k+"="+s.Args[k])
	}
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		a = append(a, "--label", k+"="+s.Labels[k])
	}
	for _, sec := range s.Secrets {
		v, err := sec.arg(e.Name)
		if err != nil {
			return nil, err
		}
		a = append(a, "--secret", v)
	}
	if len(s.Contexts) > 0 && e.Name == "docker" && !e.Buildx {
		return nil, ErrNoNamedContexts
	}
	for _, k := range slices.Sorted(maps.Keys(s.Contexts)) {
		if k == "" || strings.ContainsAny(k, "=\n") || s.Contexts[k] == "" {
			return nil, fmt.Errorf("named build context %q=%q: want name=value", k, s.Contexts[k])
		}
		a = append(a, "--build-context", k+"="+s.Contexts[k])
	}
	cache, err := e.cacheArgs(s)
	if err != nil {
		return nil, err
	}
	a = append(a, cache...)
	if s.NoCache {
		a = append(a, "--no-cache")
	}
	if s.IIDFile != "" {
		a = append(a, "--iidfile", s.IIDFile)
	}
	return append(a, s.Context), nil
}

// ShowArgv is argv for a log header or an error message: every build-arg
// value is elided (it may be a token), so `--build-arg KEY=…` is all that
// is ever shown.
func ShowArgv(argv []string) string { return strings.Join(RedactArgv(argv), " ") }

// RedactArgv is argv with every build-arg value elided.
func RedactArgv(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = a
		switch {
		case i > 0 && argv[i-1] == "--build-arg":
			out[i] = elide(a)
		case strings.HasPrefix(a, "--build-arg="):
			out[i] = "--build-arg=" + elide(strings.TrimPrefix(a, "--build-arg="))
		}
	}
	return out
}

func elide(kv string) string {
	if k, _, ok := strings.Cut(kv, "="); ok {
		return k + "=…"
	}
	return kv // KEY alone: the engine takes the value from the environment
}

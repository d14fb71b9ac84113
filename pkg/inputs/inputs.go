// Package inputs computes a digest of everything an image build can see, as
// BuildKit sees it: the Dockerfile, its args, target and effective platform,
// build secrets' identities, the IDs of its base images, and the files of the
// build context and named contexts that its COPY/ADD sources and RUN mounts
// can reach after .dockerignore, symlinks followed within the context. Equal
// digests mean the build would make the same image, so an existing image can
// take a new tag instead of being rebuilt. Where slipway cannot tell what a
// build reads, Digest returns *Unknown: the service builds, never guesses.
package inputs

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Spec is one build's inputs.
type Spec struct {
	Dockerfile string // absolute
	Context    string // absolute
	Target     string
	// Platform is the effective target platform of the build (the joined
	// --platform list, else the service's); "" is the engine's default.
	Platform string
	Args     map[string]string
	// Contexts are named build contexts (--build-context name=value): an
	// absolute directory, "docker-image://ref", or anything else (git,
	// https, oci-layout), which slipway cannot pin.
	Contexts map[string]string
	// Secrets are the identities of build secrets ("id=npm,env=NPM_TOKEN"),
	// never their values: BuildKit does not key its cache on values either.
	Secrets []string
	// Resolve maps an image reference (a FROM, COPY --from, mount from= or
	// docker-image:// context) to its ID in the engine; ok is false when
	// the engine does not have it.
	Resolve func(ctx context.Context, ref string) (id string, ok bool)
	// OnBuild returns a base image's ONBUILD triggers, which run in this
	// build and can read its context; nil means base images have none.
	OnBuild func(ctx context.Context, ref string) (triggers []string, err error)
}

// Unknown is returned, as the reason, when a build's inputs cannot be pinned
// down (a base image the engine lacks, an ADD from a URL): it must run. The
// reason is shown to the user.
type Unknown struct{ Reason string }

func (u *Unknown) Error() string { return "inputs not pinned: " + u.Reason }

func unknownf(format string, a ...any) error { return &Unknown{Reason: fmt.Sprintf(format, a...)} }

// Hasher hashes context files and walks context trees once per run, however
// many services read them.
type Hasher struct {
	mu    sync.Mutex
	files map[string]string // abs path + size + mtime -> content hash
	trees map[string]*tree  // root + ignore patterns -> walk
}

// NewHasher returns a Hasher with an empty cache.
func NewHasher() *Hasher { return &Hasher{files: map[string]string{}, trees: map[string]*tree{}} }

// root is one directory the build reads from: the main context or a named
// directory context, with the paths (patterns) its instructions reach.
type root struct {
	label  string // "context" or "context:<name>"
	dir    string
	ignore func() ([]string, error) // .dockerignore patterns as BuildKit reads them
	pats   []string
}

// digester is one Digest call's state.
type digester struct {
	spec    Spec
	ctx     context.Context
	d       io.Writer
	lex     *shell.Lex
	stages  []instructions.Stage
	byName  map[string]int
	global  map[string]string // meta ARGs and the automatic platform ARGs
	done    map[int]*stageEnv
	active  map[int]bool
	roots   map[string]*root
	images  map[string]bool
	ctxSeen map[string]bool
}

// stageEnv is the variables a stage has set by its end; opaque when it
// derives from an image whose own ENV slipway does not know.
type stageEnv struct {
	vars    map[string]string
	opaque  bool
	onbuild []string // this stage's ONBUILD lines: triggers for a stage FROM it
}

// Digest returns "sha256:..." of spec's inputs, or an *Unknown error.
func (h *Hasher) Digest(ctx context.Context, spec Spec) (string, error) {
	df, err := os.ReadFile(spec.Dockerfile)
	if err != nil {
		return "", fmt.Errorf("reading Dockerfile: %w", err)
	}
	ast, err := parser.Parse(bytes.NewReader(df))
	if err != nil {
		// A newer engine may accept what this parser does not.
		return "", unknownf("cannot parse %s: %v", spec.Dockerfile, err)
	}
	stages, metaArgs, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return "", unknownf("cannot parse %s: %v", spec.Dockerfile, err)
	}
	target, err := NormalizePlatform(spec.Platform)
	if err != nil {
		return "", err
	}
	hostPlatform, _ := NormalizePlatform("")

	dg := &digester{
		spec: spec, ctx: ctx, lex: shell.NewLex(ast.EscapeToken), stages: stages,
		byName: map[string]int{}, done: map[int]*stageEnv{}, active: map[int]bool{},
		roots: map[string]*root{}, images: map[string]bool{}, ctxSeen: map[string]bool{},
	}
	for i, st := range stages {
		if st.Name != "" {
			dg.byName[strings.ToLower(st.Name)] = i
		}
	}
	// globals sets the global-scope ARGs for one target platform: the
	// automatic platform ARGs, then the meta ARGs before the first FROM.
	globals := func(platform string) error {
		dg.global = platformArgs(platform, hostPlatform)
		for _, a := range metaArgs {
			for _, kv := range a.Args {
				if v, ok := spec.Args[kv.Key]; ok {
					dg.global[kv.Key] = v
				} else if kv.Value != nil {
					v, _, err := dg.lex.ProcessWord(*kv.Value, envGetter(dg.global))
					if err != nil {
						return unknownf("cannot expand ARG %s: %v", kv.Key, err)
					}
					dg.global[kv.Key] = v
				}
			}
		}
		return nil
	}

	last := len(stages) - 1
	if spec.Target != "" {
		i, ok := dg.byName[strings.ToLower(spec.Target)]
		if !ok {
			return "", fmt.Errorf("%s has no stage %q", spec.Dockerfile, spec.Target)
		}
		last = i
	}
	if last < 0 {
		return "", fmt.Errorf("%s has no stage", spec.Dockerfile)
	}

	sum := sha256.New()
	dg.d = sum
	fmt.Fprintf(sum, "dockerfile\x00%s\x00target\x00%s\x00platform\x00%s\x00buildplatform\x00%s\x00", canonical(df, ast), spec.Target, target, hostPlatform)
	for _, k := range slices.Sorted(maps.Keys(spec.Args)) {
		fmt.Fprintf(sum, "arg\x00%s=%s\x00", k, spec.Args[k])
	}
	if err := dg.frontend(df, spec.Args); err != nil {
		return "", err
	}
	for _, s := range slices.Sorted(slices.Values(spec.Secrets)) {
		fmt.Fprintf(sum, "secret\x00%s\x00", s)
	}
	dg.roots["context"] = &root{label: "context", dir: spec.Context, ignore: func() ([]string, error) {
		return ignorePatterns(spec.Context, spec.Dockerfile)
	}}
	// Only the stages the target depends on run (BuildKit prunes the rest);
	// their text is in the Dockerfile's hash either way. A multi-platform
	// build reads, per platform, what $TARGETARCH and the like name.
	for _, platform := range strings.Split(target, ",") {
		if err := globals(platform); err != nil {
			return "", err
		}
		clear(dg.done)
		if _, err := dg.stage(last); err != nil {
			return "", err
		}
	}
	for _, label := range slices.Sorted(maps.Keys(dg.roots)) {
		r := dg.roots[label]
		if len(r.pats) == 0 {
			continue
		}
		if err := h.hashRoot(sum, r); err != nil {
			return "", err
		}
	}
	return "sha256:" + hex.EncodeToString(sum.Sum(nil)), nil
}

// canonical is the Dockerfile as BuildKit builds it: its syntax directive,
// escape token, and each instruction (continuations joined) with its
// heredocs. Comments, blank lines and line numbers are not in any step's
// cache key nor in the image, so editing them must not cost a rebuild.
func canonical(df []byte, ast *parser.Result) string {
	var b strings.Builder
	syntax, _, _, _ := parser.DetectSyntax(df)
	fmt.Fprintf(&b, "syntax=%s\x00escape=%c\x00", syntax, ast.EscapeToken)
	for _, n := range ast.AST.Children {
		fmt.Fprintf(&b, "%s\x00", n.Original)
		for _, h := range n.Heredocs {
			fmt.Fprintf(&b, "heredoc\x00%s\x00%d\x00%t\x00%t\x00%s\x00", h.Name, h.FileDescriptor, h.Expand, h.Chomp, h.Content)
		}
	}
	return b.String()
}

// frontend accounts for the Dockerfile frontend a syntax directive (or the
// BUILDKIT_SYNTAX build arg, which overrides it) names. A digest pins it,
// and the text already hashed says so; a tag can move to a new frontend
// that builds the same text differently, so it counts by the image ID it
// names now, as a FROM does — and when the engine does not hold it, the
// builder fetches whatever the tag names today, which slipway cannot see.
func (dg *digester) frontend(df []byte, args map[string]string) error {
	syntax, _, _, _ := parser.DetectSyntax(df)
	syntax = cmp.Or(args["BUILDKIT_SYNTAX"], syntax)
	if syntax == "" || strings.Contains(syntax, "@sha256:") {
		return nil
	}
	id, ok := dg.spec.Resolve(dg.ctx, syntax)
	if !ok {
		return unknownf("frontend %s is named by tag and is not in the engine: the builder fetches whatever it names today", syntax)
	}
	fmt.Fprintf(dg.d, "frontend\x00%s\x00%s\x00", syntax, id)
	return nil
}

// platformArgs are the ARGs BuildKit defines in the global scope.
func platformArgs(target, build string) map[string]string {
	m := map[string]string{}
	for prefix, p := range map[string]string{"TARGET": target, "BUILD": build} {
		parts := strings.SplitN(p, "/", 3)
		for len(parts) < 3 {
			parts = append(parts, "")
		}
		m[prefix+"PLATFORM"] = p
		m[prefix+"OS"], m[prefix+"ARCH"], m[prefix+"VARIANT"] = parts[0], parts[1], parts[2]
	}
	return m
}

type envGetter map[string]string

func (e envGetter) Get(k string) (string, bool) { v, ok := e[k]; return v, ok }
func (e envGetter) Keys() []string              { return slices.Collect(maps.Keys(e)) }

// stage accounts for stage i (and, first, everything it depends on) and
// returns the variables it ends with.
func (dg *digester) stage(i int) (*stageEnv, error) {
	if env, ok := dg.done[i]; ok {
		return env, nil
	}
	if dg.active[i] {
		return nil, unknownf("stage %d depends on itself", i)
	}
	dg.active[i] = true
	defer delete(dg.active, i)
	st := dg.stages[i]

	env := &stageEnv{vars: map[string]string{}}
	var triggers []string
	baseName, _, err := dg.lex.ProcessWord(st.BaseName, envGetter(dg.global))
	if err != nil {
		return nil, unknownf("cannot expand FROM %s: %v", st.BaseName, err)
	}
	// FROM names a stage only if it is defined before this one.
	if j, ok := dg.byName[strings.ToLower(baseName)]; ok && j < i {
		parent, err := dg.stage(j)
		if err != nil {
			return nil, err
		}
		maps.Copy(env.vars, parent.vars)
		env.opaque = parent.opaque
		triggers = parent.onbuild
	} else if baseName != "scratch" {
		env.opaque = true // the image's ENV is pinned by its ID, but unknown here
		if err := dg.source(baseName, "."); err != nil {
			return nil, err
		}
		if dg.spec.OnBuild != nil && !dg.isContext(baseName) {
			if triggers, err = dg.spec.OnBuild(dg.ctx, baseName); err != nil {
				return nil, unknownf("cannot read ONBUILD triggers of %s: %v", baseName, err)
			}
		}
	}
	if st.Platform != "" {
		p, _, err := dg.lex.ProcessWord(st.Platform, envGetter(dg.global))
		if err != nil {
			return nil, unknownf("cannot expand FROM --platform=%s: %v", st.Platform, err)
		}
		fmt.Fprintf(dg.d, "stage-platform\x00%d\x00%s\x00", i, p)
	}

	// The base's ONBUILD triggers run first, as if written after FROM.
	if len(triggers) > 0 {
		src := "FROM scratch\n" + strings.Join(triggers, "\n") + "\n"
		ast, err := parser.Parse(strings.NewReader(src))
		if err != nil {
			return nil, unknownf("cannot parse ONBUILD triggers of %s: %v", baseName, err)
		}
		ts, _, err := instructions.Parse(ast.AST, nil)
		if err != nil || len(ts) != 1 {
			return nil, unknownf("cannot parse ONBUILD triggers of %s: %v", baseName, err)
		}
		fmt.Fprintf(dg.d, "onbuild\x00%d\x00%s\x00", i, src)
		if err := dg.commands(i, env, ts[0].Commands); err != nil {
			return nil, err
		}
	}
	if err := dg.commands(i, env, st.Commands); err != nil {
		return nil, err
	}
	dg.done[i] = env
	return env, nil
}

// commands accounts for what cmds, run in stage i, read.
func (dg *digester) commands(i int, env *stageEnv, cmds []instructions.Command) error {
	// expand expands a word with the stage's variables; exact is false when
	// it used one that only the base image could define.
	expand := func(w string) (string, bool, error) {
		res, err := dg.lex.ProcessWordWithMatches(w, envGetter(env.vars))
		if err != nil {
			return "", false, unknownf("cannot expand %q: %v", w, err)
		}
		return res.Result, !(env.opaque && len(res.Unmatched) > 0), nil
	}
	// ctxPath turns a source path into a context pattern; one that uses a
	// variable slipway cannot know reaches the whole context.
	ctxPath := func(w string) (string, error) {
		p, exact, err := expand(w)
		if err != nil {
			return "", err
		}
		if !exact {
			return ".", nil
		}
		return p, nil
	}
	for _, c := range cmds {
		switch c := c.(type) {
		case *instructions.OnbuildCommand:
			env.onbuild = append(env.onbuild, c.Expression)
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				if v, ok := dg.spec.Args[kv.Key]; ok {
					env.vars[kv.Key] = v
				} else if kv.Value != nil {
					v, _, err := expand(*kv.Value)
					if err != nil {
						return err
					}
					env.vars[kv.Key] = v
				} else if v, ok := dg.global[kv.Key]; ok {
					env.vars[kv.Key] = v
				}
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				v, _, err := expand(kv.Value)
				if err != nil {
					return err
				}
				env.vars[kv.Key] = v
			}
		case *instructions.CopyCommand:
			// --exclude only narrows and --parents only re-roots what the
			// sources reach: hashing all of it is a sound superset.
			var srcs []string
			for _, s := range c.SourcePaths {
				p, err := ctxPath(s)
				if err != nil {
					return err
				}
				srcs = append(srcs, p)
			}
			if err := dg.from(i, c.From, srcs); err != nil {
				return err
			}
		case *instructions.AddCommand:
			for _, s := range c.SourcePaths {
				if isRemote(s) {
					checksum, _, err := expand(c.Checksum)
					if err != nil {
						return err
					}
					if !pinned(s, checksum) {
						return unknownf("ADD %s is not pinned with --checksum", s)
					}
					fmt.Fprintf(dg.d, "remote\x00%s\x00%s\x00", s, checksum)
					continue
				}
				p, err := ctxPath(s)
				if err != nil {
					return err
				}
				if err := dg.from(i, "", []string{p}); err != nil {
					return err
				}
			}
		case *instructions.RunCommand:
			if err := dg.run(i, c, expand); err != nil {
				return err
			}
		}
	}
	return nil
}

// run accounts for a RUN's mounts: what they bind from the context, a named
// context, a stage or an image.
func (dg *digester) run(i int, c *instructions.RunCommand, expand func(string) (string, bool, error)) error {
	for _, f := range c.FlagsUsed {
		switch f {
		case "mount", "network", "security", "device":
		default:
			return unknownf("RUN --%s is a flag slipway does not know", f)
		}
	}
	opaque := false
	err := c.Expand(func(w string) (string, error) {
		v, exact, err := expand(w)
		opaque = opaque || !exact
		return v, err
	})
	if err != nil {
		return unknownf("cannot read RUN mounts: %v", err)
	}
	for _, m := range instructions.GetMounts(c) {
		switch m.Type {
		case instructions.MountTypeBind:
			src := m.Source
			if src == "" || opaque {
				src = "."
			}
			if err := dg.from(i, m.From, []string{src}); err != nil {
				return err
			}
		case instructions.MountTypeCache:
			// A cache mount without from= starts empty and is not part of
			// BuildKit's cache key; with from= it is seeded like a bind.
			if m.From != "" {
				src := m.Source
				if src == "" || opaque {
					src = "."
				}
				if err := dg.from(i, m.From, []string{src}); err != nil {
					return err
				}
			}
		case instructions.MountTypeTmpfs:
		case instructions.MountTypeSecret, instructions.MountTypeSSH:
			// Identity only: the values are no more in BuildKit's cache key.
			fmt.Fprintf(dg.d, "mount\x00%s\x00%s\x00%s\x00", m.Type, m.CacheID, m.Target)
		default:
			return unknownf("RUN --mount=type=%s is a mount slipway does not know", m.Type)
		}
	}
	return nil
}

// from accounts for sources read by stage i from name (a COPY --from or a
// mount's from=): "" is the build context; then a stage, a named context, or
// an image.
func (dg *digester) from(i int, name string, srcs []string) error {
	if name == "" {
		r := dg.roots["context"]
		r.pats = append(r.pats, srcs...)
		return nil
	}
	if n, err := strconv.Atoi(name); err == nil {
		if n < 0 || n >= len(dg.stages) {
			return fmt.Errorf("%s: no stage with index %d", dg.spec.Dockerfile, n)
		}
		_, err := dg.stage(n)
		return err
	}
	if j, ok := dg.byName[strings.ToLower(name)]; ok && j != i {
		_, err := dg.stage(j)
		return err
	}
	return dg.source(name, srcs...)
}

// source accounts for an external source name (not a stage) read at srcs: a
// named context if one matches as BuildKit matches them, else an image.
func (dg *digester) source(name string, srcs ...string) error {
	key := contextKey(name)
	if v, ok := dg.spec.Contexts[key]; ok {
		return dg.namedContext(key, v, srcs)
	}
	if dg.images[name] {
		return nil
	}
	dg.images[name] = true
	id, ok := dg.spec.Resolve(dg.ctx, name)
	if !ok {
		return unknownf("base image %s is not in the engine", name)
	}
	fmt.Fprintf(dg.d, "image\x00%s\x00%s\x00", name, id)
	return nil
}

// isContext reports whether name is served by a named context, not an image.
func (dg *digester) isContext(name string) bool {
	_, ok := dg.spec.Contexts[contextKey(name)]
	return ok
}

// contextKey is the named-context key BuildKit looks a source name up by.
func contextKey(name string) string {
	if ref, err := reference.ParseNormalizedNamed(name); err == nil {
		return strings.TrimSuffix(reference.FamiliarString(ref), ":latest")
	}
	return name
}

// namedContext accounts for srcs read from the named context key = v.
func (dg *digester) namedContext(key, v string, srcs []string) error {
	if ref, ok := strings.CutPrefix(v, "docker-image://"); ok {
		if !dg.ctxSeen[key] {
			dg.ctxSeen[key] = true
			id, ok := dg.spec.Resolve(dg.ctx, ref)
			if !ok {
				return unknownf("image %s of build context %s is not in the engine", ref, key)
			}
			fmt.Fprintf(dg.d, "named-image\x00%s\x00%s\x00%s\x00", key, ref, id)
		}
		return nil
	}
	if !filepath.IsAbs(v) || strings.Contains(v, "://") {
		return unknownf("build context %s=%s is not a local directory or image", key, v)
	}
	if fi, err := os.Stat(v); err != nil || !fi.IsDir() {
		return unknownf("build context %s=%s is not a directory", key, v)
	}
	label := "context:" + key
	r, ok := dg.roots[label]
	if !ok {
		// BuildKit applies a named context's own .dockerignore, at its root.
		r = &root{label: label, dir: v, ignore: func() ([]string, error) { return ignorePatterns(v, "") }}
		dg.roots[label] = r
	}
	r.pats = append(r.pats, srcs...)
	return nil
}

// scpLike is git's user@host:path form.
var scpLike = regexp.MustCompile(`^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:`)

// isRemote reports whether an ADD source is a URL or git reference, which
// BuildKit fetches instead of reading the context.
func isRemote(s string) bool { return strings.Contains(s, "://") || scpLike.MatchString(s) }

var (
	sha256Digest = regexp.MustCompile(`^sha(256|384|512):[0-9a-f]{64,128}$`)
	gitCommit    = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
)

// pinned reports whether checksum pins a remote source's content: a content
// digest for a URL, a full commit ID for a git source.
func pinned(src, checksum string) bool {
	if checksum == "" {
		return false
	}
	if sha256Digest.MatchString(checksum) {
		return true
	}
	isGit := scpLike.MatchString(src) || strings.HasPrefix(src, "git://") || strings.HasPrefix(src, "ssh://") ||
		strings.Contains(strings.SplitN(src, "#", 2)[0], ".git")
	return isGit && gitCommit.MatchString(checksum)
}

// tree is one walk of a context directory: every entry .dockerignore lets
// BuildKit send, in walk order.
type tree struct {
	entries []treeEntry
	links   []int // indexes of symlinks in entries
}

type treeEntry struct {
	rel  string // slash path
	mode fs.FileMode
	info fs.FileInfo // from the walk: no second lstat per service
}

// hashRoot writes the paths and contents of r's reachable entries.
func (h *Hasher) hashRoot(d io.Writer, r *root) error {
	ignore, err := r.ignore()
	if err != nil {
		return err
	}
	t, err := h.tree(r.dir, ignore)
	if err != nil {
		return err
	}
	pats, err := t.follow(r.dir, r.pats)
	if err != nil {
		return err
	}
	for _, e := range t.entries {
		if !reachable(e.rel, pats) {
			continue
		}
		if e.mode.IsDir() {
			// An empty directory is copied too; its mode is the content.
			fmt.Fprintf(d, "%s\x00%s\x00%o\x00", r.label, e.rel, e.mode)
			continue
		}
		sum, err := h.file(filepath.Join(r.dir, filepath.FromSlash(e.rel)), e.info)
		if err != nil {
			return err
		}
		fmt.Fprintf(d, "%s\x00%s\x00%o\x00%s\x00", r.label, e.rel, e.mode, sum)
	}
	return nil
}

// tree walks dir once per run per set of ignore patterns.
func (h *Hasher) tree(dir string, ignore []string) (*tree, error) {
	key := dir + "\x00" + strings.Join(ignore, "\x00")
	h.mu.Lock()
	t, ok := h.trees[key]
	h.mu.Unlock()
	if ok {
		return t, nil
	}
	var pm *patternmatcher.PatternMatcher
	if len(ignore) > 0 {
		var err error
		if pm, err = patternmatcher.New(ignore); err != nil {
			return nil, fmt.Errorf("reading .dockerignore of %s: %w", dir, err)
		}
	}
	// A context that is itself a symlink is read where it points, as the
	// client sends it; WalkDir would not enter it.
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving build context %s: %w", dir, err)
	}
	t = &tree{}
	err = filepath.WalkDir(real, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(real, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if pm != nil {
			if ok, _ := pm.MatchesOrParentMatches(rel); ok {
				if e.IsDir() && !pm.Exclusions() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		if e.Type()&fs.ModeSymlink != 0 {
			t.links = append(t.links, len(t.entries))
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		t.entries = append(t.entries, treeEntry{rel: rel, mode: info.Mode(), info: info})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking build context %s: %w", dir, err)
	}
	h.mu.Lock()
	h.trees[key] = t
	h.mu.Unlock()
	return t, nil
}

// maxPatterns bounds how far symlinks may multiply the reachable paths.
const maxPatterns = 4096

// follow returns srcs (cleaned, relative) plus every path a reachable
// symlink leads to, as BuildKit resolves links: within the context, an
// absolute or escaping target clamped at its root. A link that is itself
// reached makes its target reached; a link a source path goes through
// makes the rest of that path, under the target, reached.
func (t *tree) follow(dir string, srcs []string) ([]string, error) {
	seen := map[string]bool{}
	var all, queue []string
	add := func(p string) {
		p = clean(p)
		if !seen[p] {
			seen[p] = true
			queue = append(queue, p)
		}
	}
	for _, s := range srcs {
		add(s)
	}
	for len(queue) > 0 {
		if len(all)+len(queue) > maxPatterns {
			return nil, unknownf("symlinks in %s loop or fan out too far to follow", dir)
		}
		cur := queue
		queue = nil
		all = append(all, cur...)
		for _, li := range t.links {
			rel := t.entries[li].rel
			for _, p := range cur {
				var rest string
				if !reachable(rel, []string{p}) {
					var ok bool
					if rest, ok = through(p, rel); !ok {
						continue
					}
				}
				link, err := os.Readlink(filepath.Join(dir, filepath.FromSlash(rel)))
				if err != nil {
					return nil, fmt.Errorf("reading symlink %s: %w", rel, err)
				}
				link = filepath.ToSlash(link)
				target := link
				if !path.IsAbs(link) {
					target = path.Join("/", path.Dir(rel), link)
				}
				add(path.Join(target, rest))
			}
		}
	}
	return all, nil
}

// clean makes a source path relative to the context root, as BuildKit does:
// ".." cannot climb out of it.
func clean(p string) string {
	p = path.Clean("/" + filepath.ToSlash(p))[1:]
	// path.Match reads "**" as one segment's "*"; should the engine read it
	// as any depth, the folder before it covers every match.
	if i := strings.Index(p, "**"); i >= 0 {
		p = path.Dir(p[:i] + "x")
	}
	if p == "" {
		return "."
	}
	return p
}

// through reports whether pattern p passes through rel (rel matches p's
// leading components) and returns p's remaining components.
func through(p, rel string) (string, bool) {
	if p == "." {
		return "", false
	}
	pc, rc := strings.Split(p, "/"), strings.Split(rel, "/")
	if len(rc) >= len(pc) {
		return "", false
	}
	for i := range rc {
		if ok, _ := path.Match(pc[i], rc[i]); !ok {
			return "", false
		}
	}
	return strings.Join(pc[len(rc):], "/"), true
}

// reachable reports whether a source pattern covers rel: the path itself,
// anything under it, or a wildcard match of it or a parent.
func reachable(rel string, pats []string) bool {
	for _, p := range pats {
		if p == "." || p == rel || strings.HasPrefix(rel, p+"/") {
			return true
		}
		if !strings.ContainsAny(p, `*?[\`) {
			continue
		}
		for q := rel; q != "."; q = path.Dir(q) {
			if ok, _ := path.Match(p, q); ok {
				return true
			}
		}
	}
	return false
}

// ignorePatterns reads <Dockerfile>.dockerignore, else <dir>/.dockerignore,
// as BuildKit does (dockerfile "" for a named context: its root's only).
func ignorePatterns(dir, dockerfile string) ([]string, error) {
	candidates := []string{filepath.Join(dir, ".dockerignore")}
	if dockerfile != "" {
		candidates = append([]string{dockerfile + ".dockerignore"}, candidates...)
	}
	for _, p := range candidates {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		pats, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		return pats, nil
	}
	return nil, nil
}

// file returns a context file's content hash (a symlink's: its link text),
// cached by path, size, modification time and mode as the walk saw them.
func (h *Hasher) file(p string, fi fs.FileInfo) (string, error) {
	key := fmt.Sprintf("%s\x00%d\x00%d\x00%o", p, fi.Size(), fi.ModTime().UnixNano(), fi.Mode())
	h.mu.Lock()
	sum, ok := h.files[key]
	h.mu.Unlock()
	if ok {
		return sum, nil
	}
	s := sha256.New()
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		io.WriteString(s, "symlink\x00"+target)
	} else {
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(s, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("hashing %s: %w", p, err)
		}
	}
	sum = hex.EncodeToString(s.Sum(nil))
	h.mu.Lock()
	h.files[key] = sum
	h.mu.Unlock()
	return sum, nil
}

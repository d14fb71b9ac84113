// Package inputs computes a digest of exactly what an image build can see:
// the Dockerfile, its args, target and platform, the IDs of its base
// images, and the context files its COPY/ADD instructions can reach after
// .dockerignore. Equal digests mean the build would make the same image, so
// an existing image can take a new tag instead of being rebuilt.
package inputs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Spec is one build's inputs.
type Spec struct {
	Dockerfile string // absolute
	Context    string // absolute
	Target     string
	Platform   string
	Args       map[string]string
	// Resolve maps an image reference (a FROM or COPY --from) to its ID in
	// the engine; ok is false when the engine does not have it.
	Resolve func(ctx context.Context, ref string) (id string, ok bool)
}

// Unknown is returned, as the reason, when a build's inputs cannot be pinned
// down (a base image the engine lacks, an ADD from a URL): it must run.
type Unknown struct{ Reason string }

func (u *Unknown) Error() string { return "inputs not pinned: " + u.Reason }

// Hasher hashes context files once per run, however many services copy them.
type Hasher struct {
	mu    sync.Mutex
	files map[string]string // abs path + size + mtime -> content hash
}

// NewHasher returns a Hasher with an empty cache.
func NewHasher() *Hasher { return &Hasher{files: map[string]string{}} }

// Digest returns "sha256:..." of spec's inputs, or an *Unknown error.
func (h *Hasher) Digest(ctx context.Context, spec Spec) (string, error) {
	df, err := os.ReadFile(spec.Dockerfile)
	if err != nil {
		return "", fmt.Errorf("reading Dockerfile: %w", err)
	}
	ast, err := parser.Parse(bytes.NewReader(df))
	if err != nil {
		return "", fmt.Errorf("parsing %s: %w", spec.Dockerfile, err)
	}
	stages, metaArgs, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return "", fmt.Errorf("parsing %s: %w", spec.Dockerfile, err)
	}
	env := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				env[kv.Key] = *kv.Value
			}
		}
	}
	for k, v := range spec.Args {
		env[k] = v
	}
	expand := func(s string) string { return os.Expand(s, func(k string) string { return env[k] }) }

	last := len(stages) - 1
	if spec.Target != "" {
		last = -1
		for i, s := range stages {
			if strings.EqualFold(s.Name, spec.Target) {
				last = i
			}
		}
		if last < 0 {
			return "", fmt.Errorf("%s has no stage %q", spec.Dockerfile, spec.Target)
		}
	}
	stageNames := map[string]bool{}
	d := sha256.New()
	fmt.Fprintf(d, "dockerfile\x00%s\x00target\x00%s\x00platform\x00%s\x00", df, spec.Target, spec.Platform)
	for _, k := range slices.Sorted(maps.Keys(spec.Args)) {
		fmt.Fprintf(d, "arg\x00%s=%s\x00", k, spec.Args[k])
	}
	var sources []string
	base := func(ref string) error {
		ref = expand(ref)
		if stageNames[strings.ToLower(ref)] || ref == "scratch" {
			return nil
		}
		id, ok := spec.Resolve(ctx, ref)
		if !ok {
			return &Unknown{Reason: "base image " + ref + " is not in the engine"}
		}
		fmt.Fprintf(d, "image\x00%s\x00%s\x00", ref, id)
		return nil
	}
	for i := 0; i <= last; i++ {
		st := stages[i]
		if err := base(st.BaseName); err != nil {
			return "", err
		}
		for _, c := range st.Commands {
			switch c := c.(type) {
			case *instructions.CopyCommand:
				if c.From != "" {
					if err := base(c.From); err != nil {
						return "", err
					}
					continue
				}
				sources = append(sources, c.SourcePaths...)
			case *instructions.AddCommand:
				for _, s := range c.SourcePaths {
					if strings.Contains(s, "://") || strings.HasPrefix(s, "git@") {
						return "", &Unknown{Reason: "ADD from " + s}
					}
				}
				sources = append(sources, c.SourcePaths...)
			}
		}
		if st.Name != "" {
			stageNames[strings.ToLower(st.Name)] = true
		}
	}
	files, err := contextFiles(spec.Context, spec.Dockerfile, sources, expand)
	if err != nil {
		return "", err
	}
	for _, rel := range files {
		sum, mode, err := h.file(filepath.Join(spec.Context, filepath.FromSlash(rel)))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(d, "file\x00%s\x00%o\x00%s\x00", rel, mode, sum)
	}
	return "sha256:" + hex.EncodeToString(d.Sum(nil)), nil
}

// contextFiles lists, sorted, the context files (slash paths) that the
// sources can reach and .dockerignore does not exclude.
func contextFiles(root, dockerfile string, sources []string, expand func(string) string) ([]string, error) {
	pm, err := ignoreMatcher(root, dockerfile)
	if err != nil {
		return nil, err
	}
	var pats []string
	for _, s := range sources {
		s = path.Clean("/" + filepath.ToSlash(expand(s)))[1:]
		if s == "" {
			s = "."
		}
		pats = append(pats, s)
	}
	var out []string
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
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
		if e.IsDir() || !reachable(rel, pats) {
			return nil
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking build context: %w", err)
	}
	sort.Strings(out)
	return out, nil
}

// reachable reports whether a COPY source pattern covers rel: the path
// itself, anything under it, or a wildcard match of it or a parent.
func reachable(rel string, pats []string) bool {
	for _, p := range pats {
		if p == "." || p == rel || strings.HasPrefix(rel, p+"/") {
			return true
		}
		for q := rel; q != "."; q = path.Dir(q) {
			if ok, _ := path.Match(p, q); ok {
				return true
			}
		}
	}
	return false
}

// ignoreMatcher reads <Dockerfile>.dockerignore, else <context>/.dockerignore,
// as BuildKit does.
func ignoreMatcher(root, dockerfile string) (*patternmatcher.PatternMatcher, error) {
	for _, p := range []string{dockerfile + ".dockerignore", filepath.Join(root, ".dockerignore")} {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		pats, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		return patternmatcher.New(pats)
	}
	return nil, nil
}

// file returns a context file's content hash and mode, cached by path, size
// and modification time.
func (h *Hasher) file(p string) (string, fs.FileMode, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return "", 0, err
	}
	key := fmt.Sprintf("%s\x00%d\x00%d", p, fi.Size(), fi.ModTime().UnixNano())
	h.mu.Lock()
	sum, ok := h.files[key]
	h.mu.Unlock()
	if ok {
		return sum, fi.Mode(), nil
	}
	s := sha256.New()
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(p)
		if err != nil {
			return "", 0, err
		}
		io.WriteString(s, target)
	} else {
		f, err := os.Open(p)
		if err != nil {
			return "", 0, err
		}
		_, err = io.Copy(s, f)
		f.Close()
		if err != nil {
			return "", 0, err
		}
	}
	sum = hex.EncodeToString(s.Sum(nil))
	h.mu.Lock()
	h.files[key] = sum
	h.mu.Unlock()
	return sum, fi.Mode(), nil
}

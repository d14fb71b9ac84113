// Package scaffold proposes a slipway.yaml for a repository that has none:
// one service per Dockerfile (or per final stage of a Dockerfile with
// several), each with the build context its COPY and ADD sources need,
// its target, and depends_on from the FROM ${X_IMAGE} build args slipway
// passes a service's dependencies under.
package scaffold

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"go.yaml.in/yaml/v3"

	"github.com/slipway-dev/slipway/pkg/config"
)

// Service is one proposed service.
type Service struct {
	Name string `json:"name"`
	// Dockerfile and Context are relative to the repository root, with
	// forward slashes; Context "." is the root.
	Dockerfile string   `json:"dockerfile"`
	Context    string   `json:"context"`
	Target     string   `json:"target,omitempty"`
	DependsOn  []string `json:"depends_on,omitempty"`
}

// Proposal is a proposed slipway.yaml.
type Proposal struct {
	Project  string    `json:"project"`
	Services []Service `json:"services"`
	// Notes are what the proposal could not decide, for the user to check.
	Notes []string `json:"notes,omitempty"`
}

// Options says where to look.
type Options struct {
	// Dir is the repository root.
	Dir string
	// Project names the project; "" derives it from Dir's name.
	Project string
}

// skipDirs are folders whose Dockerfiles are not the repository's images.
var skipDirs = map[string]bool{"node_modules": true, "vendor": true, "testdata": true, "third_party": true}

// Propose reads the repository's Dockerfiles and proposes a config.
func Propose(o Options) (*Proposal, error) {
	root, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("finding the repository: %w", err)
	}
	files, err := dockerfiles(root)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Dockerfile found under %s (looked for Dockerfile, Containerfile, *.Dockerfile, Dockerfile.*)", root)
	}
	p := &Proposal{Project: o.Project}
	if p.Project == "" {
		p.Project = sanitize(filepath.Base(root))
	}
	var froms []fromArgs // per service, the FROM ${X} args seen
	taken := map[string]bool{}
	for _, rel := range files {
		df, err := parse(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			p.Notes = append(p.Notes, fmt.Sprintf("%s skipped: %v", rel, err))
			continue
		}
		base := serviceName(rel, p.Project)
		ctxDir, note := contextFor(root, rel, df.sources)
		if note != "" {
			p.Notes = append(p.Notes, note)
		}
		targets := df.targets()
		for _, t := range targets {
			name := base
			if len(targets) > 1 {
				name = sanitize(t)
			}
			name = unique(name, base, taken)
			svc := Service{Name: name, Dockerfile: rel, Context: ctxDir, Target: t}
			p.Services = append(p.Services, svc)
			froms = append(froms, fromArgs{svc: len(p.Services) - 1, args: df.fromArgs, file: rel})
		}
	}
	if len(p.Services) == 0 {
		return nil, fmt.Errorf("no Dockerfile under %s could be read: %s", root, strings.Join(p.Notes, "; "))
	}
	p.dependencies(froms)
	if _, err := config.Parse(filepath.Join(root, config.FileName), p.YAML()); err != nil {
		return nil, fmt.Errorf("the proposal does not check out (a bug; please report it): %w", err)
	}
	return p, nil
}

type fromArgs struct {
	svc  int
	args []string
	file string
}

// dependencies turns FROM ${NAME_IMAGE} into depends_on: NAME, the build
// arg slipway passes a dependency's reference under.
func (p *Proposal) dependencies(froms []fromArgs) {
	byArg := map[string]string{}
	for _, s := range p.Services {
		byArg[config.ArgName(s.Name)] = s.Name
	}
	for _, f := range froms {
		svc := &p.Services[f.svc]
		for _, a := range f.args {
			dep, ok := byArg[a]
			switch {
			case ok && dep != svc.Name && !slices.Contains(svc.DependsOn, dep):
				svc.DependsOn = append(svc.DependsOn, dep)
			case !ok:
				p.Notes = append(p.Notes, fmt.Sprintf("%s: FROM ${%s} names no service (slipway passes a dependency NAME as NAME_IMAGE); give it under args", f.file, a))
			}
		}
	}
}

// dockerfiles lists the Dockerfiles under root, sorted, relative and with
// forward slashes.
func dockerfiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || skipDirs[name]) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !isDockerfile(name) {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("looking for Dockerfiles: %w", err)
	}
	slices.Sort(out)
	return out, nil
}

func isDockerfile(name string) bool {
	l := strings.ToLower(name)
	if strings.HasSuffix(l, ".dockerignore") || strings.HasSuffix(l, ".md") {
		return false
	}
	return l == "dockerfile" || l == "containerfile" || strings.HasSuffix(l, ".dockerfile") ||
		strings.HasPrefix(l, "dockerfile.") || strings.HasPrefix(l, "containerfile.")
}

// serviceName is the name a Dockerfile suggests: api for api.Dockerfile,
// Dockerfile.api and api/Dockerfile; the project for ./Dockerfile.
func serviceName(rel, project string) string {
	dir, file := path.Split(rel)
	l := strings.ToLower(file)
	switch {
	case strings.HasSuffix(l, ".dockerfile"):
		return sanitize(file[:len(file)-len(".dockerfile")])
	case strings.HasPrefix(l, "dockerfile.") || strings.HasPrefix(l, "containerfile."):
		return sanitize(file[strings.IndexByte(file, '.')+1:])
	case dir != "":
		return sanitize(path.Base(dir))
	}
	return project
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// sanitize makes s a valid service or project name.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.TrimLeft(b.String(), "-_.")
	if len(out) > 63 {
		out = out[:63]
	}
	if !nameRE.MatchString(out) {
		return "app"
	}
	return out
}

// unique makes name unused, first by prefixing the Dockerfile's own name.
func unique(name, base string, taken map[string]bool) string {
	if taken[name] && base != name {
		name = sanitize(base + "-" + name)
	}
	for i, n := 2, name; ; i++ {
		if !taken[n] {
			taken[n] = true
			return n
		}
		n = fmt.Sprintf("%s-%d", name, i)
	}
}

// dockerfile is what a proposal needs from one Dockerfile.
type dockerfile struct {
	stages []instructions.Stage
	// sources are the COPY and ADD sources from the build context.
	sources []string
	// fromArgs are X of each FROM ${X} / FROM $X.
	fromArgs []string
}

var fromArgRE = regexp.MustCompile(`^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$`)

func parse(path string) (*dockerfile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	ast, err := parser.Parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parsing: %w", err)
	}
	stages, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("parsing: %w", err)
	}
	if len(stages) == 0 {
		return nil, errors.New("no FROM")
	}
	df := &dockerfile{stages: stages}
	for _, st := range stages {
		if m := fromArgRE.FindStringSubmatch(st.BaseName); m != nil && !slices.Contains(df.fromArgs, m[1]) {
			df.fromArgs = append(df.fromArgs, m[1])
		}
		for _, c := range st.Commands {
			switch c := c.(type) {
			case *instructions.CopyCommand:
				if c.From == "" {
					df.sources = append(df.sources, c.SourcePaths...)
				}
			case *instructions.AddCommand:
				for _, s := range c.SourcePaths {
					if !strings.Contains(s, "://") && !strings.HasPrefix(s, "git@") {
						df.sources = append(df.sources, s)
					}
				}
			}
		}
	}
	return df, nil
}

// notImages are stage names that are rarely images to ship.
var notImages = regexp.MustCompile(`^(test|tests|lint|check|ci|dev|debug|builder|build|deps|base)(-|$)`)

// targets are the stages to build as services: every named leaf stage (no
// other stage builds on it or copies from it) that looks like an image,
// when there are several; else the last stage, named if it has a name.
func (df *dockerfile) targets() []string {
	used := map[string]bool{}
	for _, st := range df.stages {
		used[strings.ToLower(st.BaseName)] = true
		for _, c := range st.Commands {
			if cp, ok := c.(*instructions.CopyCommand); ok && cp.From != "" {
				used[strings.ToLower(cp.From)] = true
			}
			if r, ok := c.(*instructions.RunCommand); ok {
				for _, m := range instructions.GetMounts(r) {
					if m.From != "" {
						used[strings.ToLower(m.From)] = true
					}
				}
			}
		}
	}
	var leaves []string
	for _, st := range df.stages {
		if st.Name != "" && !used[strings.ToLower(st.Name)] && !notImages.MatchString(strings.ToLower(st.Name)) {
			leaves = append(leaves, st.Name)
		}
	}
	if len(leaves) > 1 {
		return leaves
	}
	return []string{df.stages[len(df.stages)-1].Name}
}

// contextFor is the build context a Dockerfile's sources need: of the
// Dockerfile's folder and the folders above it up to the root, the nearest
// where every source exists. With none, the nearest where most do.
func contextFor(root, rel string, sources []string) (string, string) {
	var cands []string
	for d := path.Dir(rel); ; d = path.Dir(d) {
		cands = append(cands, d)
		if d == "." {
			break
		}
	}
	var checkable []string
	for _, s := range sources {
		if !strings.Contains(s, "$") {
			checkable = append(checkable, s)
		}
	}
	best, bestN := cands[0], -1
	var bestMissing []string
	for _, c := range cands {
		var missing []string
		for _, s := range checkable {
			if !exists(filepath.Join(root, filepath.FromSlash(c), filepath.FromSlash(s))) {
				missing = append(missing, s)
			}
		}
		if len(missing) == 0 {
			return c, ""
		}
		if n := len(checkable) - len(missing); n > bestN {
			best, bestN, bestMissing = c, n, missing
		}
	}
	return best, fmt.Sprintf("%s: context %s, but COPY/ADD sources are missing from it and every folder above: %s", rel, best, strings.Join(bestMissing, ", "))
}

func exists(p string) bool {
	if strings.ContainsAny(p, "*?[") {
		m, _ := filepath.Glob(p)
		return len(m) > 0
	}
	_, err := os.Lstat(p)
	return err == nil
}

// YAML is the proposal as a slipway.yaml, with a header that says where
// it came from and the notes as comments.
func (p *Proposal) YAML() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Proposed by `slipway init` from %d Dockerfile service(s). Check it with\n# `slipway config check`, then `slipway build`.\n", len(p.Services))
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "# note: %s\n", strings.ReplaceAll(n, "\n", " "))
	}
	fmt.Fprintf(&b, "project: %s\nservices:\n", scalar(p.Project))
	for _, s := range p.Services {
		fmt.Fprintf(&b, "  %s:\n", scalar(s.Name))
		if s.Context != "." {
			fmt.Fprintf(&b, "    context: %s\n", scalar(s.Context))
		}
		if s.Dockerfile != path.Join(s.Context, "Dockerfile") {
			fmt.Fprintf(&b, "    dockerfile: %s\n", scalar(s.Dockerfile))
		}
		if s.Target != "" {
			fmt.Fprintf(&b, "    target: %s\n", scalar(s.Target))
		}
		if len(s.DependsOn) > 0 {
			deps := make([]string, len(s.DependsOn))
			for i, d := range s.DependsOn {
				deps[i] = scalar(d)
			}
			fmt.Fprintf(&b, "    depends_on: [%s]\n", strings.Join(deps, ", "))
		}
	}
	return b.Bytes()
}

// scalar is s as a YAML scalar, quoted only when it must be.
func scalar(s string) string {
	out, err := yaml.Marshal(s)
	if err != nil {
		return fmt.Sprintf("%q", s)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// ErrExists is Write's error when the repository has a config already.
var ErrExists = errors.New("already exists")

// Write writes the proposal as dir's slipway.yaml; it never overwrites.
func Write(dir string, p *Proposal) (string, error) {
	path := filepath.Join(dir, config.FileName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return path, fmt.Errorf("%s %w; slipway init never overwrites it (remove it first, or print the proposal without --write)", path, ErrExists)
	}
	if err != nil {
		return path, fmt.Errorf("writing %s: %w", path, err)
	}
	_, werr := f.Write(p.YAML())
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return path, fmt.Errorf("writing %s: %w", path, werr)
	}
	return path, nil
}

package config

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Report is the outcome of Check: the services and groups of a config that
// holds, or every problem found in one that does not. It is what `slipway
// config check -o json` prints.
type Report struct {
	File     string   `json:"file"`
	Valid    bool     `json:"valid"`
	Services []string `json:"services"`
	Groups   []string `json:"groups"`
	Errors   []*Error `json:"errors"`
}

// maxDockerfile is the largest Dockerfile Check parses: the engine accepts
// bigger ones, but a file this size is not a Dockerfile someone wrote.
const maxDockerfile = 4 << 20

// Check validates the config at path (a folder is searched upward, as Load
// does) more thoroughly than Load: on top of everything Load checks, it
// parses each service's Dockerfile and checks that its target is a stage of
// it. Every problem is reported, each at its file, line and column. The
// error is for a config that cannot be read at all.
func Check(ctx context.Context, path string) (*Report, error) {
	c, err := Load(path)
	r := &Report{Services: []string{}, Groups: []string{}, Errors: []*Error{}}
	if err != nil {
		problems := AsErrors(err)
		if problems == nil {
			return nil, err
		}
		r.File = problems[0].Path
		r.Errors = problems
		// The Dockerfiles are still worth checking when the config was
		// read: the user fixes everything in one go.
		if c = partial(err); c == nil {
			return r, nil
		}
	}
	r.File = c.Path
	problems := c.problems
	c.problems = nil
	c.checkDockerfiles(ctx)
	r.Errors = append(append([]*Error{}, r.Errors...), c.problems...)
	c.problems = problems
	// The config's problems in file order, then each Dockerfile's.
	sort.SliceStable(r.Errors, func(i, j int) bool {
		a, b := r.Errors[i], r.Errors[j]
		if a.Path != b.Path {
			return a.Path == c.Path
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	if len(r.Errors) == 0 {
		r.Valid = true
		r.Services = append(r.Services, c.Order...)
		for g := range c.Groups {
			r.Groups = append(r.Groups, g)
		}
		sort.Strings(r.Groups)
	}
	if len(r.Errors) > MaxErrors {
		r.Errors = AsErrors(joinErrors(r.Errors))
	}
	return r, ctx.Err()
}

// partialError carries the config that failed validation, for Check to go
// on with; it never leaves the package (Load unwraps it).
type partialError struct {
	err error
	cfg *Config
}

func (p *partialError) Error() string { return p.err.Error() }
func (p *partialError) Unwrap() error { return p.err }
func partial(err error) *Config {
	if p, ok := err.(*partialError); ok {
		return p.cfg
	}
	return nil
}

var dockerfileLineRE = regexp.MustCompile(`(?:line|Line) (\d+)`)

// checkDockerfiles parses the Dockerfile of every service whose Dockerfile
// was found, and checks that its target names a stage.
func (c *Config) checkDockerfiles(ctx context.Context) {
	for _, name := range c.Order {
		if ctx.Err() != nil {
			return
		}
		s := c.Services[name]
		stages, err := c.dockerfileStages(s)
		if err != nil {
			c.problems = append(c.problems, err)
			continue
		}
		if stages == nil || s.Target == "" || slices.ContainsFunc(stages, func(st string) bool { return strings.EqualFold(st, s.Target) }) {
			continue
		}
		named := stages
		list := "it names no stage (FROM IMAGE AS NAME)"
		if len(named) > 0 {
			list = "its stages: " + strings.Join(named, ", ")
		}
		c.addf(s.at("target="), "service %s: target %s is not a stage of %s (%s)", name, quote(s.Target), s.Dockerfile, list).Suggestion = closest(s.Target, named)
	}
}

// dockerfileStages parses s's Dockerfile and returns the names of its
// stages (the parser lower-cases them, as BuildKit matches --target), nil
// when the Dockerfile is not there (Load has said so), or a problem at the
// Dockerfile's line.
func (c *Config) dockerfileStages(s *Service) ([]string, *Error) {
	path := c.DockerfilePath(s)
	f, err := os.Open(path)
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(f, maxDockerfile+1))
	if err != nil {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("reading the Dockerfile of service %s: %v", s.Name, err)}
	}
	if len(data) > maxDockerfile {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("the Dockerfile of service %s is larger than %d bytes", s.Name, maxDockerfile)}
	}
	fail := func(err error) *Error {
		e := &Error{Path: path, Msg: fmt.Sprintf("service %s: Dockerfile does not parse: %v", s.Name, err)}
		if m := dockerfileLineRE.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
		}
		return e
	}
	ast, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fail(err)
	}
	stages, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return nil, fail(err)
	}
	if len(stages) == 0 {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("service %s: the Dockerfile has no FROM", s.Name)}
	}
	out := []string{}
	for _, st := range stages {
		if st.Name != "" {
			out = append(out, st.Name)
		}
	}
	return out, nil
}

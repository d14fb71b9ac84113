// Package config loads and validates slipway.yaml, the one file that lists a
// repository's services. The CLI and the library both read it through Load.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// FileName is the config file slipway looks for, walking up from the working directory.
const FileName = "slipway.yaml"

// DefaultImage is the image-name template used when the config names none.
const DefaultImage = "localhost/{{.Project}}-{{.Service}}"

// Config is a parsed and validated slipway.yaml.
type Config struct {
	Project     string              `yaml:"project" json:"project" jsonschema:"description=Project name; part of the default image name"`
	Image       string              `yaml:"image,omitempty" json:"image,omitempty" jsonschema:"description=Go template for the image name (.Project .Service)"`
	Tag         string              `yaml:"tag,omitempty" json:"tag,omitempty" jsonschema:"description=Go template for the tag (.Service .User .GitShort .GitCommit .Branch .Dirty .Unix .Date .Random)"`
	DirtyMarker string              `yaml:"dirty_marker,omitempty" json:"dirty_marker,omitempty" jsonschema:"description=Text .Dirty expands to when the work tree has changes (default: dirty)"`
	Services    map[string]*Service `yaml:"services" json:"services"`
	Groups      map[string][]string `yaml:"groups,omitempty" json:"groups,omitempty"`
	Kind        Kind                `yaml:"kind,omitempty" json:"kind,omitempty"`
	// Registry moves every image to this registry host (e.g. registry.example.com:5000).
	Registry string `yaml:"registry,omitempty" json:"registry,omitempty"`
	// InsecureRegistries may be reached over plain HTTP; loopback ones always may.
	InsecureRegistries []string `yaml:"insecure_registries,omitempty" json:"insecure_registries,omitempty"`

	// Dir is the repository root: the folder holding the config file.
	Dir string `yaml:"-" json:"-"`
	// Path is the config file itself.
	Path string `yaml:"-" json:"-"`
	// Order lists the services as the file declares them.
	Order []string `yaml:"-" json:"-"`
}

// Kind holds defaults for loading into Kind clusters.
type Kind struct {
	Cluster string `yaml:"cluster,omitempty" json:"cluster,omitempty"`
}

// Service is one buildable image.
type Service struct {
	Dockerfile string            `yaml:"dockerfile,omitempty" json:"dockerfile,omitempty" jsonschema:"description=Dockerfile path relative to the repo root (default: CONTEXT/Dockerfile)"`
	Context    string            `yaml:"context,omitempty" json:"context,omitempty" jsonschema:"description=Build context relative to the repo root (default: .)"`
	Target     string            `yaml:"target,omitempty" json:"target,omitempty"`
	Args       map[string]string `yaml:"args,omitempty" json:"args,omitempty"`
	Platform   string            `yaml:"platform,omitempty" json:"platform,omitempty"`
	Labels     map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	DependsOn  []string          `yaml:"depends_on,omitempty" json:"depends_on,omitempty" jsonschema:"description=Services whose images this one builds FROM; each is built first and passed as build arg NAME_IMAGE"`

	Name string `yaml:"-" json:"-"`
	Line int    `yaml:"-" json:"-"`
}

// Error is a config problem tied to a place in the file.
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// Find walks up from dir to the first folder holding slipway.yaml.
func Find(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("finding %s: %w", FileName, err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		p := filepath.Join(d, FileName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no %s in %s or any parent folder (use --file)", FileName, abs)
		}
	}
}

// Load reads and validates the config at path. A directory is searched
// upward for slipway.yaml.
func Load(path string) (*Config, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		p, err := Find(path)
		if err != nil {
			return nil, err
		}
		path = p
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(abs, data)
}

var yamlLineRE = regexp.MustCompile(`line (\d+): (.*)`)

// Parse validates data as the config file at path; relative paths in it are
// resolved against path's folder.
func Parse(path string, data []byte) (*Config, error) {
	c := &Config{Path: path, Dir: filepath.Dir(path)}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, yamlError(path, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(path, err)
	}
	lines := serviceLines(&root)
	for name, s := range c.Services {
		if s == nil {
			s = &Service{}
			c.Services[name] = s
		}
		s.Name = name
		s.Line = lines[name]
	}
	c.Order = make([]string, 0, len(c.Services))
	for name := range c.Services {
		c.Order = append(c.Order, name)
	}
	sort.Slice(c.Order, func(i, j int) bool { return lines[c.Order[i]] < lines[c.Order[j]] })
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func yamlError(path string, err error) error {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		text := strings.Replace(m[2], "not found in type", "is not a known key of", 1)
		return &Error{Path: path, Line: line, Msg: text}
	}
	return &Error{Path: path, Msg: msg}
}

// serviceLines maps each service name to the line its key is on.
func serviceLines(root *yaml.Node) map[string]int {
	out := map[string]int{}
	if len(root.Content) == 0 {
		return out
	}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "services" {
			continue
		}
		svcs := top.Content[i+1]
		for j := 0; j+1 < len(svcs.Content); j += 2 {
			out[svcs.Content[j].Value] = svcs.Content[j].Line
		}
	}
	return out
}

func (c *Config) errorf(line int, format string, args ...any) error {
	return &Error{Path: c.Path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (c *Config) validate() error {
	if c.Project == "" {
		return c.errorf(0, "project is required")
	}
	if !nameRE.MatchString(c.Project) {
		return c.errorf(0, "project %q must be lower-case letters, digits, '.', '_' or '-'", c.Project)
	}
	if len(c.Services) == 0 {
		return c.errorf(0, "services: at least one service is required")
	}
	for _, name := range c.Order {
		s := c.Services[name]
		if !nameRE.MatchString(name) {
			return c.errorf(s.Line, "service name %q must be lower-case letters, digits, '.', '_' or '-'", name)
		}
		if s.Context == "" {
			s.Context = "."
		}
		if s.Dockerfile == "" {
			s.Dockerfile = filepath.Join(s.Context, "Dockerfile")
		}
		if fi, err := os.Stat(c.ContextDir(s)); err != nil || !fi.IsDir() {
			return c.errorf(s.Line, "service %s: build context %s is not a folder", name, s.Context)
		}
		if fi, err := os.Stat(c.DockerfilePath(s)); err != nil || fi.IsDir() {
			return c.errorf(s.Line, "service %s: Dockerfile %s not found", name, s.Dockerfile)
		}
		for _, d := range s.DependsOn {
			if _, ok := c.Services[d]; !ok {
				return c.errorf(s.Line, "service %s: depends_on names unknown service %q", name, d)
			}
		}
	}
	for g, members := range c.Groups {
		if _, ok := c.Services[g]; ok {
			return c.errorf(0, "group %q has the same name as a service", g)
		}
		for _, m := range members {
			if _, ok := c.Services[m]; !ok {
				return c.errorf(0, "group %s names unknown service %q", g, m)
			}
		}
	}
	if cycle := c.findCycle(); cycle != nil {
		return c.errorf(c.Services[cycle[0]].Line, "depends_on cycle: %s", strings.Join(cycle, " -> "))
	}
	return nil
}

// findCycle returns one dependency cycle as a path that starts and ends on
// the same service, or nil.
func (c *Config) findCycle() []string {
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(string) []string
	visit = func(n string) []string {
		state[n] = active
		stack = append(stack, n)
		for _, d := range c.Services[n].DependsOn {
			switch state[d] {
			case active:
				for i, s := range stack {
					if s == d {
						return append(append([]string{}, stack[i:]...), d)
					}
				}
			case unseen:
				if cyc := visit(d); cyc != nil {
					return cyc
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return nil
	}
	for _, n := range c.Order {
		if state[n] == unseen {
			if cyc := visit(n); cyc != nil {
				return cyc
			}
		}
	}
	return nil
}

// ContextDir is the absolute build context of s.
func (c *Config) ContextDir(s *Service) string { return filepath.Join(c.Dir, s.Context) }

// DockerfilePath is the absolute Dockerfile path of s.
func (c *Config) DockerfilePath(s *Service) string { return filepath.Join(c.Dir, s.Dockerfile) }

// Select expands names (services or groups) into services, adds everything
// they depend on, and returns them in declaration order. No names means all.
func (c *Config) Select(names ...string) ([]string, error) {
	want := map[string]bool{}
	var add func(string)
	add = func(n string) {
		if want[n] {
			return
		}
		want[n] = true
		for _, d := range c.Services[n].DependsOn {
			add(d)
		}
	}
	if len(names) == 0 {
		names = c.Order
	}
	for _, n := range names {
		switch {
		case c.Services[n] != nil:
			add(n)
		case c.Groups[n] != nil:
			for _, m := range c.Groups[n] {
				add(m)
			}
		default:
			return nil, fmt.Errorf("unknown service or group %q (known: %s)", n, strings.Join(c.known(), ", "))
		}
	}
	out := make([]string, 0, len(want))
	for _, n := range c.Order {
		if want[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

func (c *Config) known() []string {
	k := append([]string{}, c.Order...)
	for g := range c.Groups {
		k = append(k, g)
	}
	sort.Strings(k[len(c.Order):])
	return k
}

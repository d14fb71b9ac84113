// Package config loads and validates slipway.yaml, the one file that lists a
// repository's services. The CLI and the library both read it through Load.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// FileName is the config file slipway looks for, walking up from the working directory.
const FileName = "slipway.yaml"

// DefaultImage is the image-name template used when the config names none.
const DefaultImage = "localhost/{{.Project}}-{{.Service}}"

// DefaultContext is a service's build context when the config names none:
// the repository root.
const DefaultContext = "."

// Config is a parsed and validated slipway.yaml.
type Config struct {
	Project     string              `yaml:"project" json:"project" jsonschema:"description=Project name; part of the default image name"`
	Image       string              `yaml:"image,omitempty" json:"image,omitempty" jsonschema:"description=Go template for the image name (.Project .Service); a repository name only: slipway adds the tag,default=localhost/{{.Project}}-{{.Service}}"`
	Tag         string              `yaml:"tag,omitempty" json:"tag,omitempty" jsonschema:"description=Go template for the tag (.Project .Service .User .GitShort .GitCommit .Branch .Dirty .Unix .Date .Random),default={{.Service}}-{{.User}}-{{.GitShort}}{{.Dirty}}-{{.Unix}}"`
	DirtyMarker string              `yaml:"dirty_marker,omitempty" json:"dirty_marker,omitempty" jsonschema:"description=Text .Dirty expands to when the work tree has changes (it is empty on a clean tree),default=-dirty"`
	Services    map[string]*Service `yaml:"services" json:"services" jsonschema:"description=The images to build (at most 1000) by service name"`
	Groups      map[string][]string `yaml:"groups,omitempty" json:"groups,omitempty"`
	Kind        Kind                `yaml:"kind,omitempty" json:"kind,omitempty"`
	// Registry moves every image to this registry host (e.g. registry.example.com:5000).
	Registry string `yaml:"registry,omitempty" json:"registry,omitempty"`
	// InsecureRegistries may be reached over plain HTTP; loopback ones always may.
	InsecureRegistries []string `yaml:"insecure_registries,omitempty" json:"insecure_registries,omitempty"`
	// AllowOutsideRepo lets build contexts, Dockerfiles and named contexts
	// resolve outside the repository. Off by default: an image, and a
	// registry it is pushed to, should only ever receive the repository's files.
	AllowOutsideRepo bool `yaml:"allow_outside_repo,omitempty" json:"allow_outside_repo,omitempty" jsonschema:"description=Allow context / dockerfile / contexts paths that resolve (following symlinks) outside the repository root; off by default so that no file from outside the repository is sent into an image"`
	// CacheFrom and CacheTo are every service's BuildKit cache imports and
	// exports (see cache.go); a service's own lists replace them.
	CacheFrom []string `yaml:"cache_from,omitempty" json:"cache_from,omitempty" jsonschema:"description=BuildKit cache sources for every service\\, as buildx --cache-from writes them (type=registry\\,ref=REF / type=local\\,src=DIR; a bare REF is type=registry); .Project and .Service expand"`
	CacheTo   []string `yaml:"cache_to,omitempty" json:"cache_to,omitempty" jsonschema:"description=BuildKit cache exports for every service\\, as buildx --cache-to writes them (type=registry\\,ref=REF\\,mode=max / type=inline / type=local\\,dest=DIR); .Project and .Service expand"`

	// Dir is the repository root: the folder holding the config file.
	Dir string `yaml:"-" json:"-"`
	// Path is the config file itself.
	Path string `yaml:"-" json:"-"`
	// Order lists the services as the file declares them.
	Order []string `yaml:"-" json:"-"`

	// lines maps top-level keys, group names ("groups.NAME") and group
	// members ("groups.NAME.N") to where they are written.
	lines map[string]pos
	// problems collects what validation finds, so that all are reported.
	problems []*Error
}

// Kind holds defaults for loading into Kind clusters.
type Kind struct {
	Cluster string `yaml:"cluster,omitempty" json:"cluster,omitempty"`
}

// Service is one buildable image.
type Service struct {
	Dockerfile string            `yaml:"dockerfile,omitempty" json:"dockerfile,omitempty" jsonschema:"description=Dockerfile path relative to the repo root (default: CONTEXT/Dockerfile); must stay inside the repository unless allow_outside_repo"`
	Context    string            `yaml:"context,omitempty" json:"context,omitempty" jsonschema:"description=Build context relative to the repo root; must stay inside the repository unless allow_outside_repo,default=."`
	Target     string            `yaml:"target,omitempty" json:"target,omitempty"`
	Args       map[string]string `yaml:"args,omitempty" json:"args,omitempty" jsonschema:"description=Build args; a key may not be the NAME_IMAGE arg of a service this one depends on"`
	Platform   string            `yaml:"platform,omitempty" json:"platform,omitempty" jsonschema:"description=OCI platform(s) os/arch[/variant] to build for (comma-separated)\\, e.g. linux/amd64"`
	Labels     map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	DependsOn  []string          `yaml:"depends_on,omitempty" json:"depends_on,omitempty" jsonschema:"description=Services whose images this one builds FROM; each is built first and passed as build arg NAME_IMAGE (upper-cased; other characters become _)"`
	Contexts   map[string]string `yaml:"contexts,omitempty" json:"contexts,omitempty" jsonschema:"description=Named build contexts (BuildKit --build-context) by name: a folder relative to the repo root (inside the repository unless allow_outside_repo) or docker-image://REF; remote sources (https://... http://... git://... ssh://... git@host:path) are accepted but an image using one is never reused"`
	Secrets    []Secret          `yaml:"secrets,omitempty" json:"secrets,omitempty" jsonschema:"description=BuildKit build secrets (RUN --mount=type=secret\\,id=ID); only their identities reach the input digest\\, never their values"`
	CacheFrom  []string          `yaml:"cache_from,omitempty" json:"cache_from,omitempty" jsonschema:"description=BuildKit cache sources of this service (replacing the top-level cache_from)\\, as buildx --cache-from writes them"`
	CacheTo    []string          `yaml:"cache_to,omitempty" json:"cache_to,omitempty" jsonschema:"description=BuildKit cache exports of this service (replacing the top-level cache_to)\\, as buildx --cache-to writes them"`

	Name string `yaml:"-" json:"-"`
	Line int    `yaml:"-" json:"-"`

	// pos is where the service's name is written.
	pos pos
	// lines maps the service's keys ("context", "args.KEY", "contexts.NAME",
	// "secrets.N") to where they are written, "KEY=" to where their values are.
	lines map[string]pos
}

// Error is a config problem tied to a place in the file.
type Error struct {
	Path string `json:"file"`
	Line int    `json:"line,omitempty"`
	// Col is the 1-based column of the offending key or value, 0 if unknown.
	Col int    `json:"col,omitempty"`
	Msg string `json:"message"`
	// Suggestion is the known name closest to a misspelt one, or empty.
	Suggestion string `json:"suggestion,omitempty"`
}

// Error is always one line of bounded length: a message that quotes the
// file (a YAML parser error naming a hostile tag or anchor) must not be able
// to forge further lines of output or fill a terminal.
func (e *Error) Error() string {
	msg := e.Msg
	if e.Suggestion != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", quote(e.Suggestion))
	}
	msg = oneLine(msg)
	if len(msg) > maxMsgLen {
		msg = strings.ToValidUTF8(msg[:maxMsgLen*2/3], "") + " … " + strings.ToValidUTF8(msg[len(msg)-maxMsgLen/3:], "")
	}
	switch {
	case e.Line > 0 && e.Col > 0:
		return fmt.Sprintf("%s:%d:%d: %s", oneLine(e.Path), e.Line, e.Col, msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", oneLine(e.Path), e.Line, msg)
	}
	return fmt.Sprintf("%s: %s", oneLine(e.Path), msg)
}

// Errors is every problem found in one config, in file order. Parse
// returns it when there is more than one problem, so that a user fixes the
// file in one go; errors.As still finds the first *Error.
type Errors []*Error

// Error is one line per problem.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, err := range e {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives each problem to errors.Is and errors.As.
func (e Errors) Unwrap() []error {
	out := make([]error, len(e))
	for i, err := range e {
		out[i] = err
	}
	return out
}

// MaxErrors is the most problems one Parse reports: a file that is wrong
// everywhere (a different YAML file passed with --file) must not fill a
// terminal.
const MaxErrors = 50

// AsErrors returns every config problem err carries: the list of an
// Errors, the one *Error, or nil for any other error.
func AsErrors(err error) []*Error {
	var list Errors
	if errors.As(err, &list) {
		return list
	}
	var one *Error
	if errors.As(err, &one) {
		return []*Error{one}
	}
	return nil
}

// maxMsgLen bounds the message part of an Error, in bytes.
const maxMsgLen = 600

// oneLine escapes line breaks and other control characters and invalid
// UTF-8, so that s prints as a single line.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, isControl) && strings.ToValidUTF8(s, "") == s {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if isControl(r) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029
}

// quote is %q of s, shortened so that a hostile value cannot make an error
// message huge.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q… (%d bytes)", strings.ToValidUTF8(s[:max], ""), len(s))
	}
	return fmt.Sprintf("%q", s)
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
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	// Read one byte past the limit, never the whole file: --file /dev/zero
	// or a huge file must fail fast, not fill memory.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(abs, data)
}

var (
	yamlLineRE = regexp.MustCompile(`line (\d+): (.*)`)
	// goTypeRE finds the Go type a decoder error names ("into
	// map[string]*config.Service"); checkShape catches what would cause one,
	// so this only keeps a Go type out of a message should one still come.
	goTypeRE = regexp.MustCompile(`(?:\[\]|map\[string\]|\*)*(?:config\.\w+|string|bool|int)\b`)
)

// Parse validates data as the config file at path; relative paths in it are
// resolved against path's folder. It accepts at most MaxFileSize bytes,
// MaxNodes YAML nodes after alias expansion, MaxDepth levels of nesting and
// MaxServices services, so that a hostile file fails with one clear error
// instead of exhausting memory or time.
func Parse(path string, data []byte) (*Config, error) {
	c := &Config{Path: path, Dir: filepath.Dir(path)}
	if len(data) > MaxFileSize {
		return nil, c.errorf(0, "config is larger than %d bytes (MaxFileSize); a slipway.yaml never needs that much", MaxFileSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, c.errorf(0, "config is empty: project and services are required")
	}
	if err := checkText(c, data); err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(path, data, err)
	}
	// Bound the document before anything expands its aliases.
	if err := checkTree(c, &root); err != nil {
		return nil, err
	}
	// Every unknown key and every value of the wrong kind, at once and in
	// YAML words; the decoder below would stop at the first and name a Go
	// type. It stays strict, as a backstop.
	checkShape(c, &root)
	if err := c.failed(); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, c.errorf(0, "config holds no YAML document: project and services are required")
		}
		return nil, yamlError(path, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(path, data, err)
		}
		return nil, c.errorf(extra.Line, "config holds more than one YAML document (a second --- starts here); slipway reads exactly one")
	}
	lines := readLines(c, &root)
	if len(c.Services) > MaxServices {
		return nil, c.errorf(c.lines["services"].line, "%d services: slipway accepts at most %d (MaxServices) in one config", len(c.Services), MaxServices)
	}
	for name, s := range c.Services {
		if s == nil {
			s = &Service{}
			c.Services[name] = s
		}
		s.Name = name
		s.pos = lines[name].at
		s.Line = s.pos.line
		s.lines = lines[name].keys
	}
	c.Order = make([]string, 0, len(c.Services))
	for name := range c.Services {
		c.Order = append(c.Order, name)
	}
	// Services merged in through an alias have no line of their own: the
	// name breaks ties so that the order never depends on map iteration.
	sort.Slice(c.Order, func(i, j int) bool {
		a, b := c.Services[c.Order[i]], c.Services[c.Order[j]]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Name < b.Name
	})
	c.validate()
	if err := c.failed(); err != nil {
		// Check goes on with the config to look at its Dockerfiles too.
		return nil, &partialError{err: err, cfg: c}
	}
	return c, nil
}

func yamlError(path string, data []byte, err error) error {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		text := goTypeRE.ReplaceAllString(strings.Replace(m[2], "not found in type", "is not a known key of", 1), "the expected kind of value")
		// YAML caps a plain key at 1024 characters and then reports only
		// "mapping values are not allowed": say what is really wrong.
		if n := lineLen(data, line); n > 1024 && strings.HasPrefix(text, "mapping values are not allowed") {
			text += fmt.Sprintf(" (the line is %d bytes long; a YAML key is at most 1024 characters)", n)
		}
		return &Error{Path: path, Line: line, Msg: text}
	}
	return &Error{Path: path, Msg: msg}
}

// lineLen is the length of the 1-based line of data, or 0.
func lineLen(data []byte, line int) int {
	for i := 1; i < line; i++ {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			return 0
		}
		data = data[nl+1:]
	}
	if nl := bytes.IndexByte(data, '\n'); nl >= 0 {
		return nl
	}
	return len(data)
}

// checkText refuses a file that is not text: the YAML parser would say only
// "invalid leading UTF-8 octet" or "control characters are not allowed",
// without a line.
func checkText(c *Config, data []byte) error {
	// YAML also reads UTF-16 with a byte-order mark; the parser checks that.
	if bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) {
		return nil
	}
	line := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		switch {
		case r == utf8.RuneError && size == 1:
			return c.errorf(line, "not UTF-8 text (byte 0x%02x); slipway.yaml must be UTF-8", data[0])
		case r == 0:
			return c.errorf(line, "holds a NUL byte; slipway.yaml must be text")
		case r == '\n':
			line++
		}
		data = data[size:]
	}
	return nil
}

type serviceLines struct {
	at   pos
	keys map[string]pos
}

// pos is a place in the file: 1-based line and column, zero when unknown.
type pos struct{ line, col int }

func nodePos(n *yaml.Node) pos { return pos{n.Line, n.Column} }

// readLines maps each service name to the place its key is, and each key
// written inside a service (and the top-level keys, and group members) to
// theirs, so that errors point at the offending key rather than at the
// service. Keys that come in through an alias have no place of their own
// and fall back to the service's.
func readLines(c *Config, root *yaml.Node) map[string]serviceLines {
	out := map[string]serviceLines{}
	c.lines = map[string]pos{}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return out
	}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i], top.Content[i+1]
		c.lines[key.Value] = nodePos(key)
		c.lines[key.Value+"="] = nodePos(val)
		if val.Kind == yaml.SequenceNode {
			// cache_from, cache_to: each item at its place.
			for m, item := range val.Content {
				c.lines[fmt.Sprintf("%s.%d", key.Value, m)] = nodePos(item)
			}
		}
		switch key.Value {
		case "groups":
			if val.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(val.Content); j += 2 {
					g, members := val.Content[j], val.Content[j+1]
					c.lines["groups."+g.Value] = nodePos(g)
					if members.Kind == yaml.SequenceNode {
						for m, item := range members.Content {
							c.lines[fmt.Sprintf("groups.%s.%d", g.Value, m)] = nodePos(item)
						}
					}
				}
			}
		case "services":
			if val.Kind != yaml.MappingNode {
				continue
			}
			for j := 0; j+1 < len(val.Content); j += 2 {
				name, body := val.Content[j], val.Content[j+1]
				out[name.Value] = serviceLines{at: nodePos(name), keys: keyLines(body)}
			}
		}
	}
	return out
}

// keyLines maps each key of a service to its place, "KEY=" to its value's,
// and "KEY.SUB" to a nested key's or list item's.
func keyLines(body *yaml.Node) map[string]pos {
	keys := map[string]pos{}
	if body.Kind != yaml.MappingNode {
		return keys
	}
	for k := 0; k+1 < len(body.Content); k += 2 {
		key, val := body.Content[k], body.Content[k+1]
		keys[key.Value] = nodePos(key)
		keys[key.Value+"="] = nodePos(val)
		switch {
		case val.Kind == yaml.MappingNode:
			for m := 0; m+1 < len(val.Content); m += 2 {
				keys[key.Value+"."+val.Content[m].Value] = nodePos(val.Content[m])
			}
		case val.Kind == yaml.SequenceNode:
			for m, item := range val.Content {
				keys[fmt.Sprintf("%s.%d", key.Value, m)] = nodePos(item)
			}
		}
	}
	return keys
}

func (c *Config) errorf(line int, format string, args ...any) error {
	return &Error{Path: c.Path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// addf records a problem at p and returns it, so that the caller can add a
// suggestion; validation goes on, and Parse reports every problem at once.
func (c *Config) addf(p pos, format string, args ...any) *Error {
	e := &Error{Path: c.Path, Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)}
	c.problems = append(c.problems, e)
	return e
}

// failed turns the recorded problems into Parse's error: nil, the one
// *Error, or Errors in file order (at most MaxErrors).
func (c *Config) failed() error {
	return joinErrors(c.problems)
}

func joinErrors(list []*Error) error {
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	list = append([]*Error(nil), list...)
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	if len(list) > MaxErrors {
		more := len(list) - MaxErrors + 1
		list = append(list[:MaxErrors-1], &Error{Path: list[0].Path, Msg: fmt.Sprintf("… and %d more problems", more)})
	}
	return Errors(list)
}

// at is where key of s is written ("KEY=" for its value), else where s is.
func (s *Service) at(key string) pos {
	if p := s.lines[key]; p.line > 0 {
		return p
	}
	return s.pos
}

// line is the line of key of s, else of s.
func (s *Service) line(key string) int { return s.at(key).line }

func (c *Config) validate() {
	switch {
	case c.Project == "":
		c.addf(pos{}, "project is required")
	case !nameRE.MatchString(c.Project):
		c.addf(c.lines["project="], "project %s must be 1-63 lower-case letters, digits, '.', '_' or '-'", quote(c.Project))
	}
	if len(c.Services) == 0 {
		c.addf(c.lines["services"], "services: at least one service is required")
	}
	for _, name := range c.Order {
		c.validateService(c.Services[name])
	}
	c.checkArgNames()
	groups := make([]string, 0, len(c.Groups))
	for g := range c.Groups {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		at := c.lines["groups."+g]
		if _, ok := c.Services[g]; ok {
			c.addf(at, "group %s has the same name as a service", quote(g))
		}
		for i, m := range c.Groups[g] {
			if _, ok := c.Services[m]; !ok {
				p := c.lines[fmt.Sprintf("groups.%s.%d", g, i)]
				if p.line == 0 {
					p = at
				}
				c.addf(p, "group %s names unknown service %s", quote(g), quote(m)).Suggestion = closest(m, c.Order)
			}
		}
	}
	if cycle := c.findCycle(); cycle != nil {
		c.addf(c.Services[cycle[0]].pos, "depends_on cycle: %s", strings.Join(cycle, " -> "))
	}
	c.checkTemplates()
	c.checkCache()
}

func (c *Config) validateService(s *Service) {
	name := s.Name
	if !nameRE.MatchString(name) {
		// Every other message names the service: one error is enough.
		c.addf(s.pos, "service name %s must be 1-63 lower-case letters, digits, '.', '_' or '-'", quote(name))
		return
	}
	if s.Context == "" {
		s.Context = DefaultContext
	}
	if s.Dockerfile == "" {
		s.Dockerfile = filepath.Join(s.Context, "Dockerfile")
	}
	// Containment first: a path outside the repository is refused before
	// anything about it is looked at.
	ctxInside := c.checkInside(s, "context", s.Context, "build context")
	dfInside := c.checkInside(s, "dockerfile", s.Dockerfile, "Dockerfile")
	if ctxInside {
		if fi, err := os.Stat(c.ContextDir(s)); err != nil || !fi.IsDir() {
			c.addf(s.at("context="), "service %s: build context %s is not a folder", name, quote(s.Context))
		}
	}
	if dfInside {
		if fi, err := os.Stat(c.DockerfilePath(s)); err != nil || fi.IsDir() {
			c.addf(s.at("dockerfile="), "service %s: Dockerfile %s not found", name, quote(s.Dockerfile))
		}
	}
	for i, d := range s.DependsOn {
		if _, ok := c.Services[d]; !ok {
			c.addf(s.at(fmt.Sprintf("depends_on.%d", i)), "service %s: depends_on names unknown service %s", name, quote(d)).Suggestion = closest(d, c.Order)
		}
	}
	for _, k := range sortedKeys(s.Args) {
		if !argKeyRE.MatchString(k) {
			c.addf(s.at("args."+k), "service %s: build arg name %s must be letters, digits and '_' (not starting with a digit), at most %d bytes", name, quote(k), MaxKeyLen)
		}
	}
	for _, k := range sortedKeys(s.Labels) {
		if k == "" || len(k) > MaxKeyLen || strings.ContainsAny(k, "= \t\r\n") {
			c.addf(s.at("labels."+k), "service %s: label key %s must be 1-%d bytes without '=' or white space", name, quote(k), MaxKeyLen)
		}
	}
	c.checkPlatform(s)
	c.validateContexts(s)
	c.validateSecrets(s)
}

var argKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,255}$`)

// checkInside refuses a path of s that resolves, following symlinks, outside
// the repository, unless the config allows that; it reports whether the
// path may be looked at.
func (c *Config) checkInside(s *Service, key, rel, what string) bool {
	if c.AllowOutsideRepo {
		return true
	}
	p := filepath.Join(c.Dir, rel)
	real, root := realPath(p), realPath(c.Dir)
	if within(root, real) {
		return true
	}
	how := ""
	if lexical := filepath.Clean(p); within(filepath.Clean(c.Dir), lexical) {
		how = fmt.Sprintf(" (through a symlink, to %q)", real)
	}
	at := s.at(key + "=")
	if _, written := s.lines[key+"="]; !written {
		at = s.at(key)
	}
	c.addf(at, "service %s: %s %s is outside the repository %q%s; set allow_outside_repo: true if files from outside the repository may be sent into the image", s.Name, what, quote(rel), c.Dir, how)
	return false
}

// realPath resolves every symlink in p. A path that does not exist (yet) is
// resolved as far as it exists and continued lexically, so that a missing
// folder under a symlink that leaves the repository still counts as outside.
func realPath(p string) string {
	p = filepath.Clean(p)
	rest := ""
	for cur := p; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// within reports whether p is root or below it; both must be clean.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && filepath.IsLocal(rel)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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
			if c.Services[d] == nil {
				continue // reported as an unknown service
			}
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

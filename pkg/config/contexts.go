package config

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
)

// SourceKind says where a named build context comes from, which decides
// whether slipway can tell that it did not change.
type SourceKind int

const (
	// SourceLocal is a folder of the repository (or, with
	// allow_outside_repo, of the host): its files can be hashed.
	SourceLocal SourceKind = iota
	// SourceImage is docker-image://REF: as stable as REF is (a digest pins it).
	SourceImage
	// SourceRemote is a URL or git repository: slipway cannot tell what it
	// holds, so a service using one is never reused.
	SourceRemote
)

func (k SourceKind) String() string {
	switch k {
	case SourceLocal:
		return "local"
	case SourceImage:
		return "image"
	case SourceRemote:
		return "remote"
	}
	return "unknown"
}

// ImageScheme prefixes a named context that is an image.
const ImageScheme = "docker-image://"

// remotePrefixes are the remote forms of a named context BuildKit accepts
// (a git repository or an HTTP(S) tarball).
var remotePrefixes = []string{"https://", "http://", "git://", "ssh://", "git@"}

// ContextKind says what kind of source the value of a named context is.
func ContextKind(value string) SourceKind {
	switch {
	case strings.HasPrefix(value, ImageScheme):
		return SourceImage
	case hasAnyPrefix(value, remotePrefixes):
		return SourceRemote
	}
	return SourceLocal
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// ContextSources returns s's named build contexts for --build-context: a
// local one as its absolute folder, any other unchanged.
func (c *Config) ContextSources(s *Service) map[string]string {
	if len(s.Contexts) == 0 {
		return nil
	}
	out := make(map[string]string, len(s.Contexts))
	for name, v := range s.Contexts {
		if ContextKind(v) == SourceLocal {
			v = filepath.Join(c.Dir, v)
		}
		out[name] = v
	}
	return out
}

func (c *Config) validateContexts(s *Service) {
	for _, name := range sortedKeys(s.Contexts) {
		v := s.Contexts[name]
		line := s.at("contexts." + name)
		if err := checkContextName(name); err != "" {
			c.addf(line, "service %s: named context %s: %s", s.Name, quote(name), err)
		}
		switch ContextKind(v) {
		case SourceImage:
			ref := strings.TrimPrefix(v, ImageScheme)
			if _, err := reference.ParseNormalizedNamed(ref); err != nil {
				c.addf(line, "service %s: named context %s: %s is not an image reference: %v", s.Name, name, quote(ref), err)
			}
		case SourceRemote:
			if strings.ContainsAny(v, " \t\r\n") {
				c.addf(line, "service %s: named context %s: %s is not a URL", s.Name, name, quote(v))
			}
		case SourceLocal:
			if v == "" {
				c.addf(line, "service %s: named context %s is empty: give a folder relative to the repo root or %sREF", s.Name, name, ImageScheme)
				continue
			}
			if scheme, _, ok := strings.Cut(v, "://"); ok && !strings.ContainsAny(scheme, "/.") {
				c.addf(line, "service %s: named context %s: unsupported source %s (use a folder relative to the repo root, %sREF, https://, http://, git://, ssh:// or git@host:path)", s.Name, name, quote(v), ImageScheme)
				continue
			}
			if !c.checkInside(s, "contexts."+name, v, "named context "+name) {
				continue
			}
			if fi, err := os.Stat(filepath.Join(c.Dir, v)); err != nil || !fi.IsDir() {
				c.addf(line, "service %s: named context %s: %s is not a folder", s.Name, name, quote(v))
			}
		}
	}
}

// checkContextName reports why BuildKit would never use a named context
// called name, or "". The Dockerfile frontend looks a context up by the
// familiar form of the name as an image reference (FROM name, COPY
// --from=name), so any other spelling would be silently ignored.
func checkContextName(name string) string {
	if name == "" || len(name) > MaxKeyLen {
		return "a name is 1-256 characters"
	}
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "must be lower-case letters, digits, '.', '_', '-' and '/' (as in an image name, optionally with :tag): " + err.Error()
	}
	if canon := strings.TrimSuffix(reference.FamiliarString(named), ":latest"); canon != name {
		return "BuildKit looks this context up as " + quote(canon) + "; write it that way"
	}
	return ""
}

package config

import (
	"encoding/csv"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/distribution/reference"
)

// Cache backends slipway passes to BuildKit. Others (gha, s3, azblob) need
// credentials in the spec or in the environment of the builder; slipway's
// credentials come from the engine's login store only, so it refuses them.
const (
	CacheRegistry = "registry"
	CacheInline   = "inline"
	CacheLocal    = "local"
)

var cacheTypes = []string{CacheRegistry, CacheInline, CacheLocal}

// CacheSpec is one BuildKit cache import or export, as buildx's
// --cache-from / --cache-to and bake's cache-from / cache-to write it:
// type=registry,ref=localhost:5000/cache:api,mode=max.
type CacheSpec struct {
	Type  string
	Attrs map[string]string
}

// String is the spec as buildx takes it: type first, then the attributes
// sorted, each field CSV-quoted where it must be.
func (c CacheSpec) String() string {
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

// ParseCache reads one cache spec; export says whether it is a cache_to
// (an export) or a cache_from (an import). A bare value with no '=' is a
// registry reference, as buildx reads it. Templates are not expanded here:
// see Config.Cache. On a problem it returns the error with the spec as far
// as it was read.
func ParseCache(s string, export bool) (CacheSpec, error) {
	r := csv.NewReader(strings.NewReader(s))
	r.TrimLeadingSpace = true
	fields, err := r.Read()
	if err != nil {
		return CacheSpec{}, fmt.Errorf("not a comma-separated list of key=value: %v", err)
	}
	if len(fields) == 1 && !strings.Contains(fields[0], "=") {
		if fields[0] == CacheInline {
			return CacheSpec{}, fmt.Errorf("write type=inline (a bare value is a registry reference)")
		}
		fields = []string{"type=registry", "ref=" + fields[0]}
	}
	c := CacheSpec{Attrs: map[string]string{}}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return CacheSpec{}, fmt.Errorf("field %s is not key=value", quote(f))
		}
		if k == "type" {
			c.Type = v
			continue
		}
		if _, dup := c.Attrs[k]; dup {
			return CacheSpec{}, fmt.Errorf("%s is given twice", k)
		}
		c.Attrs[k] = v
	}
	if err := c.check(export); err != nil {
		// The spec as far as it was read, for a caller's suggestion.
		return c, err
	}
	return c, nil
}

// check applies the rules that do not need templates expanded.
func (c CacheSpec) check(export bool) error {
	switch c.Type {
	case "":
		return fmt.Errorf("no type= (one of %s)", strings.Join(cacheTypes, ", "))
	case CacheRegistry:
		if c.Attrs["ref"] == "" {
			return fmt.Errorf("type=registry needs ref=IMAGE")
		}
	case CacheInline:
		if !export {
			return fmt.Errorf("type=inline is an export only: read inline cache with type=registry,ref=IMAGE")
		}
	case CacheLocal:
		key := "src"
		if export {
			key = "dest"
		}
		if c.Attrs[key] == "" {
			return fmt.Errorf("type=local needs %s=FOLDER", key)
		}
	default:
		return fmt.Errorf("unknown cache type %s (slipway passes %s; others need credentials outside the engine's login store)", quote(c.Type), strings.Join(cacheTypes, ", "))
	}
	if m, ok := c.Attrs["mode"]; ok {
		if !export {
			return fmt.Errorf("mode= is for cache_to only")
		}
		if m != "min" && m != "max" {
			return fmt.Errorf("mode %s: want min or max", quote(m))
		}
	}
	return nil
}

// CacheFields are the fields a cache spec can use in a template.
var CacheFields = []string{"Project", "Service"}

// Cache returns the cache imports and exports of service s: its own lists,
// else the top-level ones, with {{.Project}} and {{.Service}} expanded and
// local folders made absolute (relative to the repository root). set
// reports, for each direction, whether the config says anything at all (an
// empty list says "none"), so that a caller's default applies only where
// it does not.
func (c *Config) Cache(s string) (from, to []CacheSpec, fromSet, toSet bool, err error) {
	svc := c.Services[s]
	if svc == nil {
		return nil, nil, false, false, fmt.Errorf("unknown service %q", s)
	}
	fromList, toList := c.CacheFrom, c.CacheTo
	if svc.CacheFrom != nil {
		fromList = svc.CacheFrom
	}
	if svc.CacheTo != nil {
		toList = svc.CacheTo
	}
	from, err = c.renderCache(s, fromList, false)
	if err != nil {
		return nil, nil, false, false, err
	}
	to, err = c.renderCache(s, toList, true)
	if err != nil {
		return nil, nil, false, false, err
	}
	return from, to, fromList != nil, toList != nil, nil
}

// renderCache expands and parses list for service s.
func (c *Config) renderCache(s string, list []string, export bool) ([]CacheSpec, error) {
	var out []CacheSpec
	for _, raw := range list {
		text, err := renderTemplate("cache", raw, map[string]string{"Project": c.Project, "Service": s})
		if err != nil {
			msg, _ := templateProblem(err, CacheFields)
			return nil, fmt.Errorf("cache spec %s: %s", quote(raw), msg)
		}
		spec, err := ParseCache(text, export)
		if err != nil {
			return nil, fmt.Errorf("cache spec %s: %v", quote(raw), err)
		}
		if problem := cacheRefProblem(spec); problem != "" {
			return nil, fmt.Errorf("cache spec %s: %s", quote(raw), problem)
		}
		for _, k := range []string{"src", "dest"} {
			if p, ok := spec.Attrs[k]; ok && spec.Type == CacheLocal && !filepath.IsAbs(p) {
				spec.Attrs[k] = filepath.Join(c.Dir, p)
			}
		}
		out = append(out, spec)
	}
	return out, nil
}

// cacheRefProblem says why a registry spec's ref is no image reference.
func cacheRefProblem(spec CacheSpec) string {
	if spec.Type != CacheRegistry {
		return ""
	}
	if _, err := reference.ParseNormalizedNamed(spec.Attrs["ref"]); err != nil {
		return fmt.Sprintf("ref %s is not an image reference: %v", quote(spec.Attrs["ref"]), err)
	}
	return ""
}

// checkCache validates every cache spec of the config, top-level and per
// service, each at its line, expanded for every service it applies to.
func (c *Config) checkCache() {
	check := func(list []string, export bool, at func(i int) pos, services []string, where string) {
		for i, raw := range list {
			for _, s := range services {
				text, err := renderTemplate("cache", raw, map[string]string{"Project": c.Project, "Service": s})
				if err != nil {
					msg, sug := templateProblem(err, CacheFields)
					c.addf(at(i), "%s: %s", where, msg).Suggestion = sug
					break
				}
				spec, err := ParseCache(text, export)
				if err == nil {
					if problem := cacheRefProblem(spec); problem != "" {
						err = fmt.Errorf("%s", problem)
					}
				}
				if err != nil {
					e := c.addf(at(i), "%s %s: %v", where, quote(raw), err)
					if spec.Type != "" && !slices.Contains(cacheTypes, spec.Type) {
						e.Suggestion = closest(spec.Type, cacheTypes)
					}
					break
				}
			}
		}
	}
	topAt := func(key string) func(int) pos {
		return func(i int) pos {
			if p := c.lines[fmt.Sprintf("%s.%d", key, i)]; p.line > 0 {
				return p
			}
			return c.lines[key]
		}
	}
	check(c.CacheFrom, false, topAt("cache_from"), c.Order, "cache_from")
	check(c.CacheTo, true, topAt("cache_to"), c.Order, "cache_to")
	for _, name := range c.Order {
		svc := c.Services[name]
		for _, key := range []string{"cache_from", "cache_to"} {
			list := svc.CacheFrom
			if key == "cache_to" {
				list = svc.CacheTo
			}
			at := func(i int) pos { return svc.at(fmt.Sprintf("%s.%d", key, i)) }
			check(list, key == "cache_to", at, []string{name}, "service "+name+": "+key)
		}
	}
}

package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkShape walks the document against the types it decodes into and
// records every unknown key (with the known key it is nearest to) and every
// value of the wrong kind, each at its line and column. The YAML decoder
// would stop at the first, and name a Go type.
func checkShape(c *Config, root *yaml.Node) {
	if len(root.Content) == 0 {
		return
	}
	s := shapeCheck{c: c, seen: map[*yaml.Node]bool{}}
	s.walk(root.Content[0], reflect.TypeFor[Config](), "the config")
}

type shapeCheck struct {
	c *Config
	// seen holds anchored nodes already checked: an alias repeats its
	// anchor's problems, which are reported once, at the anchor.
	seen map[*yaml.Node]bool
}

// yamlKeys lists t's YAML keys in declaration order, with their fields.
func yamlKeys(t reflect.Type) ([]string, map[string]reflect.Type) {
	var names []string
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		names = append(names, name)
		fields[name] = f.Type
	}
	return names, fields
}

// Keys returns the keys slipway.yaml accepts at the top level and in a
// service, for completion and "did you mean".
func Keys() (top, service []string) {
	top, _ = yamlKeys(reflect.TypeFor[Config]())
	service, _ = yamlKeys(reflect.TypeFor[Service]())
	return top, service
}

func (s *shapeCheck) walk(n *yaml.Node, t reflect.Type, where string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
		if n == nil {
			return
		}
	}
	if n.Anchor != "" {
		if s.seen[n] {
			return
		}
		s.seen[n] = true
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty value: the zero value
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if !s.want(n, yaml.MappingNode, where, "a mapping of keys") {
			return
		}
		names, fields := yamlKeys(t)
		s.pairs(n, where, func(k, v *yaml.Node) {
			ft, ok := fields[k.Value]
			if !ok {
				e := s.c.addf(nodePos(k), "unknown key %s in %s (known keys: %s)", quote(k.Value), where, strings.Join(names, ", "))
				e.Suggestion = closest(k.Value, names)
				return
			}
			s.walk(v, ft, keyWhere(k.Value, where))
		}, t)
	case reflect.Map:
		if !s.want(n, yaml.MappingNode, where, "a mapping") {
			return
		}
		scalars := t.Elem().Kind() == reflect.String
		s.pairs(n, where, func(k, v *yaml.Node) {
			// args and labels hold most of a big file's nodes: name
			// where they are only for a problem.
			if scalars && (v.Kind == yaml.ScalarNode || v.Kind == yaml.AliasNode && v.Alias != nil && v.Alias.Kind == yaml.ScalarNode) {
				return
			}
			s.walk(v, t.Elem(), elemWhere(k.Value, where))
		}, t)
	case reflect.Slice:
		if !s.want(n, yaml.SequenceNode, where, "a list") {
			return
		}
		for i, item := range n.Content {
			s.walk(item, t.Elem(), fmt.Sprintf("item %d of %s", i+1, where))
		}
	case reflect.Bool:
		if !s.want(n, yaml.ScalarNode, where, "true or false") {
			return
		}
		if n.ShortTag() != "!!bool" {
			s.c.addf(nodePos(n), "%s must be true or false, not %s", where, quote(n.Value))
		}
	default:
		s.want(n, yaml.ScalarNode, where, "a single value")
	}
}

// pairs calls f on each key and value of mapping n, following merge keys
// (<<: *anchor) into the mappings they merge.
func (s *shapeCheck) pairs(n *yaml.Node, where string, f func(k, v *yaml.Node), t reflect.Type) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				merged = v.Content
			}
			for _, m := range merged {
				s.walk(m, t, where)
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			s.c.addf(nodePos(k), "a key in %s must be a plain name, not %s", where, describe(k))
			continue
		}
		f(k, v)
	}
}

// want records a problem unless n is of kind.
func (s *shapeCheck) want(n *yaml.Node, kind yaml.Kind, where, what string) bool {
	if n.Kind == kind {
		return true
	}
	s.c.addf(nodePos(n), "%s must be %s, not %s", where, what, describe(n))
	return false
}

// describe names what a node is in YAML words.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		keys := make([]string, 0, len(n.Content)/2)
		for i := 0; i < len(n.Content) && len(keys) < 3; i += 2 {
			keys = append(keys, n.Content[i].Value)
		}
		sort.Strings(keys)
		return "a mapping (" + strings.Join(keys, ", ") + ")"
	case yaml.SequenceNode:
		return fmt.Sprintf("a list of %d items", len(n.Content))
	case yaml.AliasNode:
		return "an alias"
	}
	return "the value " + quote(n.Value)
}

// keyWhere names key KEY inside where.
func keyWhere(key, where string) string {
	if where == "the config" {
		return key
	}
	return key + " of " + where
}

// elemWhere names the entry KEY of the map where.
func elemWhere(key, where string) string {
	switch where {
	case "services":
		return "service " + key
	case "groups":
		return "group " + key
	}
	return where + " " + quote(key)
}

package config

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits on what Parse accepts. Real configs are far below each of them; they
// exist so that a hostile or broken file (a YAML bomb, a generated file gone
// wrong, a binary passed with --file) fails with one clear error instead of
// exhausting memory or time.
const (
	// MaxFileSize is the largest config file, in bytes.
	MaxFileSize = 1 << 20
	// MaxServices is the most services one config may declare.
	MaxServices = 1000
	// MaxNodes is the most YAML nodes (keys, values, list items) the file
	// may hold once its aliases are expanded: it stops billion-laughs bombs
	// before anything expands them.
	MaxNodes = 200_000
	// MaxDepth is the deepest nesting of maps and lists, aliases expanded.
	// slipway.yaml needs 5 levels.
	MaxDepth = 32
	// MaxValueLen is the longest value (a path, an arg, a label), in bytes.
	MaxValueLen = 16 << 10
	// MaxKeyLen is the longest key (an arg, label, group or context name).
	MaxKeyLen = 256
	// MaxMapEntries is the most keys one map (args, labels, groups...) may
	// have; the services map has its own cap, MaxServices. The YAML decoder
	// checks a map's keys for duplicates pairwise: one map of 66,000 keys
	// took 34 s, and the cap keeps that quadratic cost small.
	MaxMapEntries = 256
)

// servicesNode is the top-level services map, or nil.
func servicesNode(root *yaml.Node) (key, val *yaml.Node) {
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, nil
	}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if k, v := top.Content[i], top.Content[i+1]; k.Value == "services" && v.Kind == yaml.MappingNode {
			return k, v
		}
	}
	return nil, nil
}

// checkTree walks the parsed document, counting nodes as alias expansion
// would produce them, and refuses it when it is too big, too deep, refers to
// itself, or holds an over-long or NUL-carrying scalar.
func checkTree(c *Config, root *yaml.Node) error {
	key, services := servicesNode(root)
	// Refuse too many services before anything pays for them.
	if services != nil && len(services.Content)/2 > MaxServices {
		return c.errorf(key.Line, "%d services: slipway accepts at most %d (MaxServices) in one config", len(services.Content)/2, MaxServices)
	}
	t := treeCheck{path: c.Path, services: services, memo: map[*yaml.Node]treeSize{}, active: map[*yaml.Node]bool{}}
	_, err := t.size(root, false)
	return err
}

type treeSize struct {
	nodes int64 // nodes under and including this one, aliases expanded
	depth int   // levels under and including this one, aliases expanded
}

type treeCheck struct {
	path     string
	services *yaml.Node // exempt from MaxMapEntries: MaxServices bounds it
	// Only anchored nodes can be reached again (through an alias) or be
	// part of a cycle, so only they are remembered.
	memo   map[*yaml.Node]treeSize
	active map[*yaml.Node]bool
	total  int64 // nodes seen so far, aliases expanded
}

func (t *treeCheck) fail(n *yaml.Node, format string, args ...any) error {
	c := Config{Path: t.path}
	return c.errorf(n.Line, format, args...)
}

func (t *treeCheck) size(n *yaml.Node, isKey bool) (treeSize, error) {
	if s, ok := t.memo[n]; ok {
		// A node reached again is reached through an alias: it costs its
		// whole expansion again, as it will when the decoder expands it.
		t.total += s.nodes
		if t.total > MaxNodes {
			return s, t.fail(n, "YAML aliases expand to more than %d nodes (MaxNodes); slipway.yaml never needs that", MaxNodes)
		}
		return s, nil
	}
	if n.Anchor != "" {
		if t.active[n] {
			return treeSize{}, t.fail(n, "YAML alias refers to a node that contains it")
		}
		t.active[n] = true
		defer delete(t.active, n)
	}
	t.total++
	if t.total > MaxNodes {
		return treeSize{}, t.fail(n, "config holds more than %d YAML nodes (MaxNodes)", MaxNodes)
	}
	if n.Kind == yaml.ScalarNode {
		switch {
		case isKey && len(n.Value) > MaxKeyLen:
			return treeSize{}, t.fail(n, "a key of %d bytes: keys are at most %d bytes (MaxKeyLen)", len(n.Value), MaxKeyLen)
		case len(n.Value) > MaxValueLen:
			return treeSize{}, t.fail(n, "a value of %d bytes: values are at most %d bytes (MaxValueLen)", len(n.Value), MaxValueLen)
		case strings.IndexByte(n.Value, 0) >= 0:
			return treeSize{}, t.fail(n, "a value holds a NUL byte")
		}
	}
	if n.Kind == yaml.MappingNode && len(n.Content)/2 > MaxMapEntries && n != t.services {
		return treeSize{}, t.fail(n, "a map of %d keys: a map has at most %d (MaxMapEntries)", len(n.Content)/2, MaxMapEntries)
	}
	s := treeSize{nodes: 1, depth: 1}
	kids := n.Content
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		kids = []*yaml.Node{n.Alias}
	}
	for i, k := range kids {
		ks, err := t.size(k, n.Kind == yaml.MappingNode && i%2 == 0)
		if err != nil {
			return s, err
		}
		s.nodes += ks.nodes
		if d := ks.depth + 1; d > s.depth {
			s.depth = d
		}
	}
	// The document node and an alias node are not levels of their own.
	if n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode {
		s.depth--
	}
	if s.depth > MaxDepth {
		return s, t.fail(n, "nested more than %d levels deep (MaxDepth)", MaxDepth)
	}
	if n.Anchor != "" {
		t.memo[n] = s
	}
	return s, nil
}

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
	_, err := t.size(root, false, 0)
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

// size walks n, which sits at nesting level `level` (the document's
// content is level 1), and returns its size with aliases expanded.
func (t *treeCheck) size(n *yaml.Node, isKey bool, level int) (treeSize, error) {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return treeSize{}, nil
		}
		if t.active[n.Alias] {
			return treeSize{}, t.fail(n, "YAML alias refers to a node that contains it")
		}
		s, ok := t.memo[n.Alias]
		if !ok {
			// An anchor comes before its aliases and was walked already;
			// walk it here should that ever not hold.
			return t.size(n.Alias, isKey, level)
		}
		// The decoder expands the anchored node again here: count it again.
		t.total += s.nodes
		if t.total > MaxNodes {
			return s, t.fail(n, "YAML aliases expand to more than %d nodes (MaxNodes); slipway.yaml never needs that", MaxNodes)
		}
		if level+s.depth-1 > MaxDepth {
			return s, t.fail(n, "nested more than %d levels deep (MaxDepth) through this alias", MaxDepth)
		}
		return s, nil
	}
	if n.Anchor != "" {
		t.active[n] = true
		defer delete(t.active, n)
	}
	t.total++
	switch {
	case t.total > MaxNodes:
		return treeSize{}, t.fail(n, "config holds more than %d YAML nodes (MaxNodes)", MaxNodes)
	case level > MaxDepth:
		return treeSize{}, t.fail(n, "nested more than %d levels deep (MaxDepth)", MaxDepth)
	case n.Kind == yaml.MappingNode && len(n.Content)/2 > MaxMapEntries && n != t.services:
		return treeSize{}, t.fail(n, "a map of %d keys: a map has at most %d (MaxMapEntries)", len(n.Content)/2, MaxMapEntries)
	case len(n.Tag) > MaxKeyLen:
		return treeSize{}, t.fail(n, "a YAML tag of %d bytes: tags are at most %d bytes", len(n.Tag), MaxKeyLen)
	case n.Kind != yaml.ScalarNode:
	case isKey && len(n.Value) > MaxKeyLen:
		return treeSize{}, t.fail(n, "a key of %d bytes: keys are at most %d bytes (MaxKeyLen)", len(n.Value), MaxKeyLen)
	case len(n.Value) > MaxValueLen:
		return treeSize{}, t.fail(n, "a value of %d bytes: values are at most %d bytes (MaxValueLen)", len(n.Value), MaxValueLen)
	case strings.IndexByte(n.Value, 0) >= 0:
		return treeSize{}, t.fail(n, "a value holds a NUL byte")
	}
	s := treeSize{nodes: 1}
	for i, k := range n.Content {
		ks, err := t.size(k, n.Kind == yaml.MappingNode && i%2 == 0, level+1)
		if err != nil {
			return s, err
		}
		s.nodes += ks.nodes
		s.depth = max(s.depth, ks.depth)
	}
	// The document node is not a level of its own.
	if n.Kind != yaml.DocumentNode {
		s.depth++
	}
	if n.Anchor != "" {
		t.memo[n] = s
	}
	return s, nil
}

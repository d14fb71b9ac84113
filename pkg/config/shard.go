package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ParseShard reads "i/n" (1 <= i <= n).
func ParseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return 0, 0, fmt.Errorf("--shard %q: want i/n with 1 <= i <= n", s)
	}
	return i, n, nil
}

// Shard returns the i-th (1-based) of n disjoint parts of services, which
// together are all of them. A service and everything it depends on form
// one unit that is never split, since a build needs its dependencies'
// images. Units go, largest first, to the part with the fewest services, so
// the split depends only on the config and the selection: every CI job
// computes the same one.
func (c *Config) Shard(services []string, i, n int) []string {
	in := map[string]bool{}
	for _, s := range services {
		in[s] = true
	}
	// Union-find over depends_on edges within the selection.
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if parent[x] == "" || parent[x] == x {
			parent[x] = x
			return x
		}
		parent[x] = find(parent[x])
		return parent[x]
	}
	for _, s := range services {
		for _, d := range c.Services[s].DependsOn {
			if in[d] {
				a, b := find(s), find(d)
				if a < b {
					a, b = b, a
				}
				parent[a] = b
			}
		}
	}
	units := map[string][]string{}
	for _, s := range services {
		r := find(s)
		units[r] = append(units[r], s)
	}
	roots := make([]string, 0, len(units))
	for r := range units {
		roots = append(roots, r)
	}
	sort.Slice(roots, func(a, b int) bool {
		if len(units[roots[a]]) != len(units[roots[b]]) {
			return len(units[roots[a]]) > len(units[roots[b]])
		}
		return roots[a] < roots[b]
	})
	size := make([]int, n)
	mine := map[string]bool{}
	for _, r := range roots {
		best := 0
		for k := 1; k < n; k++ {
			if size[k] < size[best] {
				best = k
			}
		}
		size[best] += len(units[r])
		if best == i-1 {
			for _, s := range units[r] {
				mine[s] = true
			}
		}
	}
	var out []string
	for _, s := range services {
		if mine[s] {
			out = append(out, s)
		}
	}
	return out
}

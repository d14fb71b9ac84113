package config

import (
	"strings"

	"github.com/agext/levenshtein"
)

// closest is the candidate nearest to name by edit distance (ignoring
// case), or "" when none is near enough to be the name meant: at most a
// third of name's length in edits, and never fewer than one.
func closest(name string, candidates []string) string {
	limit := min(3, max(1, len(name)/3))
	best, bestD := "", limit+1
	lower := strings.ToLower(name)
	for _, c := range candidates {
		if c == name {
			continue
		}
		if d := levenshtein.Distance(lower, strings.ToLower(c), nil); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

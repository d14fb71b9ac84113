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
		if d := distance(lower, strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the edit distance of a and b, counting a swap of two
// neighbouring characters (wbe for web) as one edit, as people mistype.
func distance(a, b string) int {
	d := levenshtein.Distance(a, b, nil)
	if d == 2 && len(a) == len(b) {
		for i := 0; i+1 < len(a); i++ {
			if a[i] != b[i] {
				if a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:] {
					return 1
				}
				break
			}
		}
	}
	return d
}

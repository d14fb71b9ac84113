package progress

import (
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// RuneWidth is how many terminal cells r takes: 2 for East Asian wide and
// fullwidth characters (and most emoji), 0 for combining marks and
// invisible format characters, 1 otherwise. Ambiguous-width characters
// count 1, as terminals draw them outside East Asian locales.
func RuneWidth(r rune) int {
	switch {
	case r < 0x20 || r >= 0x7f && r < 0xa0:
		return 0
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// Width is how many terminal cells s takes.
func Width(s string) int {
	n := 0
	for _, r := range s {
		n += RuneWidth(r)
	}
	return n
}

// Truncate cuts s to at most max cells, ending it with "…" when it cut. It
// cuts between characters, never inside one, and keeps the combining marks
// of the last character it keeps.
func Truncate(s string, max int) string {
	if max <= 0 {
		return ""
	}
	if Width(s) <= max {
		return s
	}
	var b strings.Builder
	used := 0
	for _, r := range s {
		w := RuneWidth(r)
		if used+w > max-1 {
			break
		}
		used += w
		b.WriteRune(r)
	}
	return b.String() + "…"
}

// Pad fills s with spaces to n cells.
func Pad(s string, n int) string {
	if w := Width(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}

// escapeRE matches terminal escape sequences (CSI, OSC, and two-byte ones)
// that a build log line may carry.
var escapeRE = regexp.MustCompile(`\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])`)

// sanitize makes s safe to draw on one line: escape sequences removed,
// tabs as spaces, other control characters dropped, invalid UTF-8 replaced.
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r >= 0x7f && r < 0xa0 }) {
		return s
	}
	s = escapeRE.ReplaceAllString(s, "")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r < 0x20 || r >= 0x7f && r < 0xa0:
			return -1
		}
		return r
	}, s)
}

func sanitizeAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = sanitize(n)
	}
	return out
}

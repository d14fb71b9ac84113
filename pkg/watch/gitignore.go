package watch

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
)

// gitIgnore holds the .gitignore files found so far, by directory. Git's
// patterns are translated to BuildKit's patternmatcher (already how
// .dockerignore is read, see package inputs) rather than pulling in a git
// library for one file format:
//   - a pattern without a slash (but a trailing one) matches at any depth:
//     "foo" becomes "**/foo";
//   - a leading slash, or one in the middle, anchors it to the file's folder;
//   - a trailing slash ("build/") is read as the name alone: it also
//     matches a file of that name, a harmless over-match for a watcher;
//   - "!" re-includes, the last match wins, within one file. A deeper
//     .gitignore cannot re-include what a shallower one excludes.
//
// The watched project's own folder is never ignored as a whole: a parent
// .gitignore that excludes it (a copy of the project under an ignored
// out/ folder of another repository) says nothing about which of its files
// its builds read, so such a file's patterns apply only below base.
type gitIgnore struct {
	dirs map[string]*patternmatcher.PatternMatcher // absolute folder -> its .gitignore
	base string                                    // the project's folder (the config's)
}

func newGitIgnore() *gitIgnore { return &gitIgnore{dirs: map[string]*patternmatcher.PatternMatcher{}} }

// load reads dir/.gitignore, if there is one; a missing or unreadable file
// ignores nothing (the watch then only sees more events).
func (g *gitIgnore) load(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, ".gitignore"))
	if err != nil {
		delete(g.dirs, dir)
		return
	}
	pm, err := patternmatcher.New(gitPatterns(b))
	if err != nil {
		delete(g.dirs, dir)
		return
	}
	g.dirs[dir] = pm
}

// loadUp reads the .gitignore files of dir's parents up to the
// repository's top (the folder holding .git), which apply below them too;
// outside a repository there are none.
func (g *gitIgnore) loadUp(dir string) {
	var parents []string
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		parents = append(parents, d)
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			for _, p := range parents {
				g.load(p)
			}
			return
		}
		if filepath.Dir(d) == d {
			return
		}
	}
}

// gitPatterns translates a .gitignore's lines to patternmatcher patterns.
func gitPatterns(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasSuffix(line, `\ `) {
			line = strings.TrimRight(line, " \t")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := false
		if strings.HasPrefix(line, "!") {
			neg, line = true, line[1:]
		}
		line = strings.TrimPrefix(line, `\`) // "\#" and "\!" are literal
		line = strings.TrimSuffix(line, "/")
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "/") {
			line = line[1:]
		} else if !strings.Contains(line, "/") {
			line = "**/" + line
		}
		if neg {
			line = "!" + line
		}
		out = append(out, line)
	}
	return out
}

// ignored reports whether abs is ignored by a .gitignore in one of its
// folders, up to and including root.
func (g *gitIgnore) ignored(abs string) bool {
	if path.Base(filepath.ToSlash(abs)) == ".git" {
		return true
	}
	for dir, pm := range g.dirs {
		rel, err := filepath.Rel(dir, abs)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			continue
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		// skip: the leading folders of rel that are base or its parents.
		skip := 0
		if b, ok := under(dir, g.base); ok && g.base != "" && b != "." {
			for i, c := range strings.Split(b, "/") {
				if i >= len(parts) || parts[i] != c {
					break
				}
				skip = i + 1
			}
		}
		matched := false
		for i := 1; i <= len(parts); i++ {
			m, _ := pm.MatchesUsingParentResult(strings.Join(parts[:i], "/"), matched)
			matched = m && i > skip
		}
		if matched {
			return true
		}
	}
	return strings.Contains(filepath.ToSlash(abs), "/.git/")
}

package tag

import (
	"context"
	"os/exec"
	"strings"
)

// Git is what the tag policy needs to know about the work tree.
type Git struct {
	Commit string // empty outside a repository
	Branch string
	Dirty  bool
	// Marker replaces DefaultDirtyMarker when set.
	Marker *string
}

// ReadGit asks git about dir. Outside a repository, or without git, it
// returns a zero Git rather than failing: tags then say "nogit".
func ReadGit(ctx context.Context, dir string) Git {
	run := func(args ...string) (string, bool) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err == nil
	}
	commit, ok := run("rev-parse", "HEAD")
	if !ok {
		return Git{}
	}
	g := Git{Commit: commit}
	if b, ok := run("rev-parse", "--abbrev-ref", "HEAD"); ok && b != "HEAD" {
		g.Branch = b
	}
	// Untracked files count: they can be in the build context.
	if st, ok := run("status", "--porcelain"); ok && st != "" {
		g.Dirty = true
	}
	return g
}

// Short is always 7 characters (git widens --short when it likes, and
// the tags would change shape).
func (g Git) Short() string {
	if len(g.Commit) < 7 {
		return "nogit"
	}
	return g.Commit[:7]
}

// CommitOr is the full hash or "nogit".
func (g Git) CommitOr() string {
	if g.Commit == "" {
		return "nogit"
	}
	return g.Commit
}

// DirtyMarker is what .Dirty expands to.
func (g Git) DirtyMarker() string {
	if !g.Dirty {
		return ""
	}
	if g.Marker != nil {
		return *g.Marker
	}
	return DefaultDirtyMarker
}

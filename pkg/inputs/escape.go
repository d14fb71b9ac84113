package inputs

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Escape is a symlink in a build context whose target lies outside a root
// (the repository).
type Escape struct {
	Link   string // slash path inside the context
	Target string // where it points
}

// EscapingLinks lists the symlinks the build context of dockerfile sends
// (after .dockerignore) whose targets resolve outside root and which
// BuildKit, reading them inside the context, would leave dangling. BuildKit clamps
// such a link to the context, so the image gets a dangling link instead of
// the files someone meant to copy; slipway refuses them up front. The walk
// is the one the input digest uses later, so it is paid once per run.
func (h *Hasher) EscapingLinks(contextDir, dockerfile, root string) ([]Escape, error) {
	ignore, err := ignorePatterns(contextDir, dockerfile)
	if err != nil {
		return nil, err
	}
	t, err := h.tree(contextDir, ignore)
	if err != nil {
		return nil, err
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", root, err)
	}
	realCtx, err := filepath.EvalSymlinks(contextDir)
	if err != nil {
		return nil, fmt.Errorf("resolving build context %s: %w", contextDir, err)
	}
	var out []Escape
	for _, i := range t.links {
		p := filepath.Join(realCtx, filepath.FromSlash(t.entries[i].rel))
		text, err := os.Readlink(p)
		if err != nil {
			return nil, fmt.Errorf("reading link %s: %w", p, err)
		}
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			// Dangling: judge where its text points.
			target = text
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(p), target)
			}
		}
		if rel, err := filepath.Rel(realRoot, target); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue // inside the repository
		}
		// BuildKit reads the link inside the context: an absolute target
		// from the context's root, ".." stopping there. When that names
		// something, the link was meant that way; when it does not, the
		// files the link names on this machine would be missed.
		clamped := filepath.Join(realCtx, filepath.FromSlash(path.Clean("/"+path.Join(path.Dir(t.entries[i].rel), filepath.ToSlash(text)))))
		if filepath.IsAbs(text) {
			clamped = filepath.Join(realCtx, text)
		}
		if _, err := os.Stat(clamped); err == nil {
			continue
		}
		out = append(out, Escape{Link: t.entries[i].rel, Target: text})
	}
	return out, nil
}

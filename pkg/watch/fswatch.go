package watch

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/moby/patternmatcher"

	"github.com/slipway-dev/slipway/pkg/config"
	"github.com/slipway-dev/slipway/pkg/inputs"
)

// change is one file event that may matter to a build.
type change struct {
	path    string // relative to the repository (absolute when outside it)
	at      time.Time
	created bool // the event made the file
}

// root is a folder a build reads (a context or a local named context),
// with the .dockerignore BuildKit applies to it.
type root struct {
	dir        string
	dockerfile string // "" for a named context
	ignore     *patternmatcher.PatternMatcher
}

// excluded reports whether .dockerignore keeps rel (slash path) out of
// the build.
func (r *root) excluded(rel string) bool {
	if r.ignore == nil {
		return false
	}
	ok, _ := r.ignore.MatchesOrParentMatches(rel)
	return ok
}

// prunable reports whether no file under folder rel can reach the build:
// it is excluded and no "!" pattern could bring a file back.
func (r *root) prunable(rel string) bool {
	return r.excluded(rel) && !r.ignore.Exclusions()
}

// tree watches, recursively, every folder the selected services' builds
// read, and forwards the events .dockerignore and .gitignore do not rule
// out. fsnotify watches one folder per watch, so new folders are added as
// they appear.
type tree struct {
	fw    *fsnotify.Watcher
	out   chan change
	errs  chan error
	cfgOf func() (*config.Config, []string, error) // the config and selected services, re-read on change

	mu      sync.Mutex
	roots   []*root
	files   map[string]bool // always relevant: Dockerfiles, their .dockerignore, slipway.yaml
	cfgPath string
	git     *gitIgnore
	watched map[string]bool
}

// newTree starts watching what cfgOf selects.
func newTree(cfgOf func() (*config.Config, []string, error)) (*tree, error) {
	fw, err := fsnotify.NewBufferedWatcher(4096)
	if err != nil {
		return nil, fmt.Errorf("starting the file watcher: %w", err)
	}
	t := &tree{fw: fw, out: make(chan change, 1024), errs: make(chan error, 16), cfgOf: cfgOf,
		git: newGitIgnore(), watched: map[string]bool{}}
	if err := t.setup(); err != nil {
		fw.Close()
		return nil, err
	}
	return t, nil
}

// setup (re)reads the config and the ignore files and adds watches for
// every folder now in scope. Watches of folders that left the scope stay:
// their events are filtered out.
func (t *tree) setup() error {
	cfg, services, err := t.cfgOf()
	if err != nil {
		return err
	}
	roots := []*root{}
	files := map[string]bool{cfg.Path: true}
	dirs := []string{cfg.Dir}
	for _, s := range services {
		svc := cfg.Services[s]
		df := cfg.DockerfilePath(svc)
		files[df], files[df+".dockerignore"] = true, true
		dirs = append(dirs, filepath.Dir(df))
		roots = append(roots, &root{dir: cfg.ContextDir(svc), dockerfile: df})
		for _, v := range cfg.ContextSources(svc) {
			if config.ContextKind(v) == config.SourceLocal {
				roots = append(roots, &root{dir: v})
			}
		}
	}
	for _, r := range roots {
		pats, err := inputs.IgnorePatterns(r.dir, r.dockerfile)
		if err != nil {
			return fmt.Errorf("watching %s: %w", r.dir, err)
		}
		if len(pats) > 0 {
			if r.ignore, err = patternmatcher.New(pats); err != nil {
				return fmt.Errorf("reading .dockerignore of %s: %w", r.dir, err)
			}
		}
	}
	t.mu.Lock()
	t.roots, t.files, t.cfgPath = roots, files, cfg.Path
	t.git.base = cfg.Dir
	t.git.load(cfg.Dir)
	if _, err := os.Stat(filepath.Join(cfg.Dir, ".git")); err != nil {
		t.git.loadUp(cfg.Dir)
	}
	t.mu.Unlock()
	for _, d := range dirs {
		if err := t.watch(d); err != nil {
			return err
		}
	}
	for _, r := range roots {
		if err := t.walk(r.dir, false); err != nil {
			return err
		}
	}
	return nil
}

// watch adds one folder (not its subfolders).
func (t *tree) watch(dir string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.watched[dir] {
		return nil
	}
	if err := t.fw.Add(dir); err != nil {
		return fmt.Errorf("watching %s: %w", dir, err)
	}
	t.watched[dir] = true
	return nil
}

// walk watches dir and every folder under it that a build may read; with
// report, it also reports every file found (files made in a new folder
// before its watch was added send no event of their own).
func (t *tree) walk(dir string, report bool) error {
	now := time.Now()
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return fmt.Errorf("watching %s: %w", dir, err)
			}
			return nil // gone meanwhile
		}
		if e.IsDir() {
			if t.skipDir(p) {
				return filepath.SkipDir
			}
			t.mu.Lock()
			t.git.load(p)
			t.mu.Unlock()
			if err := t.watch(p); err != nil {
				// Out of inotify watches, most often: say so, keep the rest.
				t.fail(err)
			}
			return nil
		}
		if report && t.relevant(p) {
			t.send(change{path: p, at: now})
		}
		return nil
	})
}

// skipDir reports a folder no build can read anything under.
func (t *tree) skipDir(abs string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.git.ignored(abs) {
		return true
	}
	in := false
	for _, r := range t.roots {
		rel, ok := under(r.dir, abs)
		if !ok {
			continue
		}
		in = true
		if rel == "." || !r.prunable(rel) {
			return false
		}
	}
	return in
}

// relevant reports whether a change to abs may change a build: a
// Dockerfile, an ignore file or the config, or a file of a context that
// neither .dockerignore nor .gitignore excludes. Whether it does is for
// the input digests to say.
func (t *tree) relevant(abs string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.files[abs] {
		return true
	}
	if t.git.ignored(abs) {
		return false
	}
	for _, r := range t.roots {
		rel, ok := under(r.dir, abs)
		if !ok {
			continue
		}
		if rel == ".dockerignore" || !r.excluded(rel) {
			return true
		}
	}
	return false
}

// under returns abs relative to dir, as a slash path, when it is inside.
func under(dir, abs string) (string, bool) {
	rel, err := filepath.Rel(dir, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// send forwards c, its path made relative to the repository when inside.
func (t *tree) send(c change) {
	t.mu.Lock()
	dir := filepath.Dir(t.cfgPath)
	t.mu.Unlock()
	if rel, ok := under(dir, c.path); ok {
		c.path = rel
	}
	t.out <- c
}

func (t *tree) fail(err error) {
	select {
	case t.errs <- err:
	default:
	}
}

// run forwards events until ctx ends; it closes the watcher when it returns.
func (t *tree) run(ctx context.Context) {
	defer t.fw.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case err, ok := <-t.fw.Errors:
			if !ok {
				return
			}
			t.fail(fmt.Errorf("file watcher: %w", err))
		case ev, ok := <-t.fw.Events:
			if !ok {
				return
			}
			t.event(ev)
		}
	}
}

// event handles one fsnotify event: new folders get watched, ignore files
// and the config re-read, and whatever may matter is forwarded.
func (t *tree) event(ev fsnotify.Event) {
	p := filepath.Clean(ev.Name)
	base := filepath.Base(p)
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			if !t.skipDir(p) {
				if err := t.walk(p, true); err != nil {
					t.fail(err)
				}
			}
			return
		}
	}
	t.mu.Lock()
	rescope := p == t.cfgPath || strings.HasSuffix(base, ".dockerignore")
	t.mu.Unlock()
	switch {
	case base == ".gitignore":
		t.mu.Lock()
		t.git.load(filepath.Dir(p))
		t.mu.Unlock()
	case rescope:
		// A changed config or .dockerignore changes what is in scope; a
		// broken config is reported by the next cycle, which reads it too.
		if err := t.setup(); err != nil {
			t.fail(err)
		}
	}
	if t.relevant(p) {
		t.send(change{path: p, at: time.Now(), created: ev.Has(fsnotify.Create)})
	}
}

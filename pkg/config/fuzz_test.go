package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fuzzRepo is a repository for fuzzed configs to point into: Dockerfiles,
// a context folder, and symlinks that stay inside and that leave it.
func fuzzRepo(f *testing.F) string {
	dir := f.TempDir()
	for _, d := range []string{"ctx", "docker"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			f.Fatal(err)
		}
	}
	for _, p := range []string{"D", "Dockerfile", "ctx/Dockerfile", "docker/a.Dockerfile"} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte("FROM scratch\n"), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	for link, target := range map[string]string{"in": "ctx", "out": "/", "outfile": "/etc/hostname"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			f.Fatal(err)
		}
	}
	return filepath.Join(dir, FileName)
}

// FuzzParse: whatever the bytes, Parse does not panic, returns in bounded
// time, and gives either a valid config or a one-line error naming the file.
// The seed corpus (testdata/fuzz/FuzzParse) holds real configs and hostile
// ones: YAML bombs, cycles, deep nesting, long keys and values, non-UTF-8,
// NUL bytes, duplicate keys, path escapes, arg-name collisions.
func FuzzParse(f *testing.F) {
	path := fuzzRepo(f)
	for _, h := range hostile() {
		if len(h.yaml) <= 64<<10 {
			f.Add([]byte(h.yaml))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		c, err := Parse(path, data)
		// A 1 MiB file parses in about a second; the quadratic duplicate-key
		// check of one huge map took 34 s before MaxMapEntries.
		if took := time.Since(start); took > 10*time.Second {
			t.Fatalf("Parse took %v on %d bytes", took, len(data))
		}
		if err != nil {
			// Every problem is one bounded line naming the file; there
			// are at most MaxErrors of them.
			lines := strings.Split(err.Error(), "\n")
			if len(lines) > MaxErrors {
				t.Fatalf("%d lines of errors", len(lines))
			}
			for _, msg := range lines {
				if !strings.HasPrefix(msg, path+":") || strings.ContainsAny(msg, "\r") || len(msg) > 2048 {
					t.Fatalf("error is not one bounded line naming the file: %q", msg)
				}
			}
			if c != nil {
				t.Fatalf("both a config and an error")
			}
			return
		}
		if !nameRE.MatchString(c.Project) || len(c.Services) == 0 || len(c.Services) > MaxServices || len(c.Order) != len(c.Services) {
			t.Fatalf("invalid config accepted: project %q, %d services, order %v", c.Project, len(c.Services), c.Order)
		}
		for _, name := range c.Order {
			s := c.Services[name]
			if s == nil || s.Name != name || s.Context == "" || s.Dockerfile == "" {
				t.Fatalf("service %q incomplete: %+v", name, s)
			}
			if !c.AllowOutsideRepo && !within(realPath(c.Dir), realPath(c.ContextDir(s))) {
				t.Fatalf("service %s: context %q outside the repository accepted", name, s.Context)
			}
			for k, v := range c.ContextSources(s) {
				if v == "" || s.Contexts[k] == "" {
					t.Fatalf("service %s: context %q -> %q", name, k, v)
				}
			}
			for _, sec := range s.Secrets {
				if sec.Identity() == "" || sec.Flag() == "" {
					t.Fatalf("service %s: secret %+v", name, sec)
				}
			}
		}
		seen := map[string]string{}
		for _, name := range c.Order {
			if o, ok := seen[ArgName(name)]; ok {
				t.Fatalf("services %s and %s share build arg %s", o, name, ArgName(name))
			}
			seen[ArgName(name)] = name
		}
		if sel, err := c.Select(); err != nil || !slices.Equal(sel, c.Order) {
			t.Fatalf("Select() = %v, %v; order %v", sel, err, c.Order)
		}
		// Parsing is deterministic: the same bytes give the same order.
		again, err := Parse(path, data)
		if err != nil || !slices.Equal(again.Order, c.Order) {
			t.Fatalf("second parse: %v, order %v then %v", err, c.Order, again.Order)
		}
	})
}

// Package doctor says what slipway is and what it will meet on this
// machine: its own version, the engine, buildx and its builders, Kind and
// each cluster's nodes, the state folder, host build slots, the disk its
// images take, and machine problems known to break builds or loads —
// each problem with one line that says how to fix it.
package doctor

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Version is slipway's own version, from the build information Go puts
// in every binary: the module version (a tag when installed with `go
// install ...@vX`, "(devel)" for a build from a work tree), the VCS commit
// a work-tree build was made from, and the Go toolchain.
type Version struct {
	Version    string `json:"version"`
	Commit     string `json:"commit,omitempty"`
	CommitTime string `json:"commit_time,omitempty"`
	// Modified is a build from a work tree with uncommitted changes.
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
	// KindLibrary is the version of kind's library slipway finds and
	// loads nodes with.
	KindLibrary string `json:"kind_library,omitempty"`
}

// module is slipway's module path.
const module = "github.com/slipway-dev/slipway"

// BuildVersion reads slipway's version from the running binary.
func BuildVersion() Version {
	v := Version{Version: "(unknown)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Go = bi.GoVersion
	if bi.Main.Path == module && bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, d := range bi.Deps {
		switch {
		case d.Path == module && v.Version == "(unknown)":
			// A binary of another module (a test, a tool) using slipway.
			v.Version = d.Version
		case d.Path == "sigs.k8s.io/kind":
			v.KindLibrary = d.Version
		}
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.CommitTime = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the one line `slipway --version` prints.
func (v Version) String() string {
	parts := []string{}
	if v.Commit != "" {
		c := v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if v.Modified {
			c += "+modified"
		}
		parts = append(parts, "commit "+c)
	}
	parts = append(parts, v.Go, v.Platform)
	return fmt.Sprintf("%s (%s)", v.Version, strings.Join(parts, ", "))
}

// Tool is one external program slipway uses, and its version.
type Tool struct {
	Name string `json:"name"`
	Path string `json:"path,omitempty"`
	// Version is the client's; Server the daemon's, for an engine.
	Version string `json:"version,omitempty"`
	Server  string `json:"server,omitempty"`
	// Error says why the version is not known (not installed, no daemon).
	Error string `json:"error,omitempty"`
}

// Tools are the versions `slipway version --all` adds.
type Tools struct {
	Engine Tool `json:"engine"`
	Buildx Tool `json:"buildx"`
	// Kind is the kind CLI, if installed: slipway itself needs only its
	// library (Version.KindLibrary), but Kind clusters are made with it.
	Kind Tool `json:"kind"`
}

// toolTimeout bounds each version query: a version is worth a moment,
// not a hung command.
const toolTimeout = 20 * time.Second

// ToolVersions asks the engine (engine: "docker", "podman" or "" for the
// first installed), buildx and kind for their versions.
func ToolVersions(ctx context.Context, engine string) Tools {
	var t Tools
	names := []string{"docker", "podman"}
	if engine != "" && engine != "auto" {
		names = []string{engine}
	}
	t.Engine = Tool{Name: names[0], Error: "not installed"}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			t.Engine = engineVersion(ctx, n, p)
			break
		}
	}
	t.Buildx = Tool{Name: "buildx", Error: "docker not installed"}
	if p, err := exec.LookPath("docker"); err == nil {
		t.Buildx = Tool{Name: "buildx", Path: p}
		out, err := runTool(ctx, p, "buildx", "version")
		if err != nil {
			t.Buildx.Error = "not installed (" + err.Error() + ")"
		} else if f := strings.Fields(out); len(f) >= 2 {
			// "github.com/docker/buildx v0.38.2 <commit>"
			t.Buildx.Version = f[1]
		}
	}
	t.Kind = Tool{Name: "kind", Error: "not installed"}
	if p, err := exec.LookPath("kind"); err == nil {
		t.Kind = Tool{Name: "kind", Path: p}
		out, err := runTool(ctx, p, "version")
		if err != nil {
			t.Kind.Error = err.Error()
		} else if f := strings.Fields(out); len(f) >= 2 {
			// "kind v0.33.0 go1.26.8 linux/amd64"
			t.Kind.Version = f[1]
		}
	}
	return t
}

func engineVersion(ctx context.Context, name, path string) Tool {
	t := Tool{Name: name, Path: path}
	switch name {
	case "docker":
		out, err := runTool(ctx, path, "version", "--format", "{{.Client.Version}}|{{.Server.Version}}")
		// Not a tab: docker lines its --format output up with a tabwriter.
		client, server, _ := strings.Cut(out, "|")
		t.Version, t.Server = client, server
		if err != nil {
			t.Error = "daemon not reachable: " + err.Error()
		}
	case "podman":
		out, err := runTool(ctx, path, "version", "--format", "{{.Client.Version}}")
		t.Version = out
		if err != nil {
			t.Error = err.Error()
		}
	}
	return t
}

// runTool runs a tool and returns its trimmed stdout; a failure carries the
// last line of its stderr.
func runTool(ctx context.Context, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		if msg == "" {
			msg = err.Error()
		}
		return strings.TrimSpace(string(out)), fmt.Errorf("%s", msg)
	}
	return strings.TrimSpace(string(out)), nil
}

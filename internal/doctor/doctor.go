package doctor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/slipway-dev/slipway/internal/labels"
	"github.com/slipway-dev/slipway/pkg/build/buildkit"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/kind"
	"github.com/slipway-dev/slipway/pkg/run"
	"github.com/slipway-dev/slipway/pkg/slots"
)

// Severity says what a problem stops.
type Severity string

const (
	// Blocker stops a build or a load: doctor exits non-zero.
	Blocker Severity = "blocker"
	// Warning works, worse than it could (slower, fewer features).
	Warning Severity = "warning"
)

// Problem is one thing wrong, with the one line that fixes it.
type Problem struct {
	// Area is what the problem is about: engine, buildx, kind, state,
	// slots, machine.
	Area     string   `json:"area"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix"`
}

// Report is everything doctor found.
type Report struct {
	Version Version     `json:"version"`
	Engine  EngineInfo  `json:"engine"`
	Buildx  BuildxInfo  `json:"buildx"`
	Builder BuilderInfo `json:"builder"`
	Kind    KindInfo    `json:"kind"`
	State   StateInfo   `json:"state"`
	Slots   SlotsInfo   `json:"host_slots"`
	Images  ImagesInfo  `json:"images"`
	Machine MachineInfo `json:"machine"`
	// Problems are in the order found; empty when all is well.
	Problems []Problem `json:"problems"`
}

// Blocking reports whether a problem stops a build or a load.
func (r *Report) Blocking() bool {
	return slices.ContainsFunc(r.Problems, func(p Problem) bool { return p.Severity == Blocker })
}

func (r *Report) add(area string, sev Severity, fix, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Area: area, Severity: sev, Message: fmt.Sprintf(format, args...), Fix: fix})
}

// EngineInfo is the container engine builds and loads use.
type EngineInfo struct {
	Tool
	Reachable bool `json:"reachable"`
	// API is the daemon endpoint slipway talks to without the CLI, if any.
	API string `json:"api,omitempty"`
	// DefaultRuntime is the OCI runtime containers get (docker only).
	DefaultRuntime string `json:"default_runtime,omitempty"`
}

// BuildxInfo is the docker buildx plugin and its builders.
type BuildxInfo struct {
	Tool
	Builders []Builder `json:"builders,omitempty"`
}

// Builder is one buildx builder.
type Builder struct {
	Name      string   `json:"name"`
	Driver    string   `json:"driver"`
	Current   bool     `json:"current,omitempty"`
	Status    string   `json:"status,omitempty"`
	BuildKit  string   `json:"buildkit,omitempty"`
	Platforms []string `json:"platforms,omitempty"`
}

// BuilderInfo says how builds reach BuildKit: straight to BuildKit (the
// engine's own or a buildx remote builder's buildkitd), or through the
// engine's CLI when that direct path is not available.
type BuilderInfo struct {
	// Direct is set when builds talk to BuildKit themselves.
	Direct bool `json:"direct"`
	// Via is where direct builds go; Version is BuildKit's version there.
	Via     string `json:"via,omitempty"`
	Version string `json:"buildkit_version,omitempty"`
	// Detail says it in a line, with why the direct path is not taken.
	Detail string `json:"detail"`
}

// KindInfo is kind and the clusters found.
type KindInfo struct {
	CLI      Tool          `json:"cli"`
	Library  string        `json:"library,omitempty"`
	Clusters []ClusterInfo `json:"clusters"`
}

// ClusterInfo is one Kind cluster and what its nodes offer loading.
type ClusterInfo struct {
	Name     string          `json:"name"`
	Provider string          `json:"provider,omitempty"`
	Nodes    []kind.NodeInfo `json:"nodes,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// StateInfo is slipway's state folder: run records, logs, reservations.
type StateInfo struct {
	Dir      string `json:"dir"`
	Bytes    int64  `json:"bytes"`
	Runs     int    `json:"runs"`
	Running  int    `json:"running"`
	Writable bool   `json:"writable"`
}

// SlotsInfo is the machine-wide build slots (--host-jobs).
type SlotsInfo struct {
	Dir string `json:"dir"`
	// Slots is how many slot files exist; InUse how many a build holds.
	Slots int `json:"slots"`
	InUse int `json:"in_use"`
}

// ImagesInfo is the engine's slipway-made images.
type ImagesInfo struct {
	Count int   `json:"count"`
	Bytes int64 `json:"bytes"`
	// Known is false when the engine could not be asked.
	Known bool `json:"known"`
}

// MachineInfo is what the machine itself imposes.
type MachineInfo struct {
	// CapSysResource is whether the capability bounding set holds
	// CAP_SYS_RESOURCE, which runc gives privileged containers (Kind
	// nodes); "" when it could not be read.
	CapSysResource *bool `json:"cap_sys_resource,omitempty"`
}

// Options says what doctor looks at.
type Options struct {
	// Engine is "docker", "podman" or "" to detect, as for a build.
	Engine string
	// Clusters limits the Kind clusters inspected; none means all found.
	Clusters []string
	StateDir string
	SlotsDir string
	// BuildxBuilder is the buildx builder builds would use (--builder);
	// "" is the one the CLI would use.
	BuildxBuilder string
	// Builder says how builds reach BuildKit (see BuilderInfo); nil asks
	// pkg/build/buildkit, as a build does.
	Builder func(ctx context.Context, eng *engine.Engine) BuilderInfo
	// ProcStatus is /proc/self/status, for tests.
	ProcStatus string
}

// Run looks at everything and returns what it found. It fails only when
// ctx ends; every problem found is in the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	r := &Report{Version: BuildVersion(), Problems: []Problem{}}
	tools := ToolVersions(ctx, o.Engine)
	eng := r.checkEngine(ctx, o, tools.Engine)
	r.checkBuildx(ctx, eng, tools.Buildx)
	r.Builder = BuilderInfo{Detail: "no engine"}
	switch {
	case eng == nil:
	case o.Builder != nil:
		r.Builder = o.Builder(ctx, eng)
	default:
		a := buildkit.Check(ctx, eng, o.BuildxBuilder)
		r.Builder = BuilderInfo{Direct: a.Direct, Via: a.Via, Version: a.Version, Detail: a.String()}
	}
	r.checkKind(ctx, o, tools.Kind)
	r.checkState(o)
	r.checkSlots(o)
	r.checkImages(ctx, eng)
	r.checkMachine(o)
	if err := ctx.Err(); err != nil {
		return r, context.Cause(ctx)
	}
	return r, nil
}

func (r *Report) checkEngine(ctx context.Context, o Options, t Tool) *engine.Engine {
	r.Engine.Tool = t
	eng, err := engine.Detect(ctx, o.Engine)
	if err != nil {
		fix := "install Docker Engine or Podman, and start the daemon (scripts/setup.sh does both here)"
		if t.Path != "" {
			fix = "start the " + t.Name + " daemon, or pick another engine with --engine"
		}
		r.add("engine", Blocker, fix, "no container engine reachable: %v", err)
		return nil
	}
	r.Engine.Reachable = true
	if eng.Name != t.Name {
		r.Engine.Tool = engineVersion(ctx, eng.Name, eng.Bin)
	}
	if eng.API != nil {
		r.Engine.API = eng.API.Host
	}
	if eng.Name == "docker" {
		out, err := runTool(ctx, eng.Bin, "info", "--format", "{{.DefaultRuntime}}")
		if err == nil {
			r.Engine.DefaultRuntime = out
		}
	}
	return eng
}

func (r *Report) checkBuildx(ctx context.Context, eng *engine.Engine, t Tool) {
	r.Buildx.Tool = t
	if eng == nil || eng.Name != "docker" {
		return
	}
	if t.Version == "" {
		r.add("buildx", Warning, "install the docker buildx plugin (Debian: docker-buildx)",
			"docker buildx is missing: builds use the legacy builder, and --platform, --builder and build secrets do not work")
		return
	}
	out, err := runTool(ctx, eng.Bin, "buildx", "ls", "--format", "json")
	if err != nil {
		r.add("buildx", Warning, "run docker buildx ls to see why", "cannot list buildx builders: %v", err)
		return
	}
	r.Buildx.Builders = parseBuilders(out)
	for _, b := range r.Buildx.Builders {
		if b.Status != "" && b.Status != "running" && b.Status != "inactive" {
			r.add("buildx", Warning, "docker buildx inspect --bootstrap "+b.Name+", or docker buildx rm "+b.Name,
				"buildx builder %s is %s: --builder %s will fail", b.Name, b.Status, b.Name)
		}
	}
}

// parseBuilders reads `docker buildx ls --format json`: one builder per
// line, each with its nodes.
func parseBuilders(out string) []Builder {
	var bs []Builder
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var raw struct {
			Name    string
			Driver  string
			Current bool
			Nodes   []struct {
				Status    string
				Version   string
				Platforms []string
			}
		}
		if json.Unmarshal(sc.Bytes(), &raw) != nil || raw.Name == "" {
			continue
		}
		b := Builder{Name: raw.Name, Driver: raw.Driver, Current: raw.Current}
		for _, n := range raw.Nodes {
			b.Status = n.Status
			b.BuildKit = n.Version
			b.Platforms = append(b.Platforms, n.Platforms...)
		}
		bs = append(bs, b)
	}
	return bs
}

func (r *Report) checkKind(ctx context.Context, o Options, t Tool) {
	r.Kind.CLI = t
	r.Kind.Library = r.Version.KindLibrary
	r.Kind.Clusters = []ClusterInfo{}
	all := kind.List()
	names := o.Clusters
	if len(names) == 0 {
		for n := range all {
			names = append(names, n)
		}
		slices.Sort(names)
	}
	for _, name := range names {
		ci := ClusterInfo{Name: name}
		c, err := kind.Find(ctx, name, nil)
		if err != nil {
			ci.Error = err.Error()
			r.add("kind", Blocker, "create it (kind create cluster --name "+name+") or name another with --cluster",
				"Kind cluster %s: %v", name, err)
			r.Kind.Clusters = append(r.Kind.Clusters, ci)
			continue
		}
		ci.Provider = c.Provider
		ci.Nodes = kind.Inspect(ctx, c)
		for _, n := range ci.Nodes {
			switch {
			case !n.Loadable:
				r.add("kind", Blocker, "recreate the cluster with a current kindest/node image",
					"Kind node %s (cluster %s): %s", n.Name, name, n.Problem)
			case !n.LayerAware:
				r.add("kind", Warning, "recreate the cluster with a current kindest/node image",
					"Kind node %s (cluster %s): %s", n.Name, name, n.Problem)
			}
		}
		r.Kind.Clusters = append(r.Kind.Clusters, ci)
	}
}

func (r *Report) checkState(o Options) {
	dir := o.StateDir
	if dir == "" {
		dir = run.StateDir()
	}
	r.State.Dir = dir
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed while walking is fine
		}
		if fi, err := d.Info(); err == nil && !d.IsDir() {
			r.State.Bytes += fi.Size()
		}
		return nil
	})
	if recs, err := run.Records(dir); err == nil {
		r.State.Runs = len(recs)
		r.State.Running = len(run.LiveRuns(dir, recs))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.add("state", Blocker, "set SLIPWAY_STATE_DIR to a folder you can write", "cannot create the state folder: %v", err)
		return
	}
	f, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		r.add("state", Blocker, "set SLIPWAY_STATE_DIR to a folder you can write", "cannot write in the state folder: %v", err)
		return
	}
	f.Close()
	os.Remove(f.Name())
	r.State.Writable = true
}

func (r *Report) checkSlots(o Options) {
	dir := o.SlotsDir
	if dir == "" {
		dir = slots.DefaultHostDir()
	}
	r.Slots.Dir = dir
	ents, err := os.ReadDir(dir)
	if err != nil {
		return // no slot was ever taken here
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "slot-") {
			continue
		}
		if _, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "slot-")); err != nil {
			continue
		}
		r.Slots.Slots++
		// Taking the lock for an instant is the only way to see it held;
		// a build that wants it meanwhile just polls again.
		l, err := slots.TryLockShared(filepath.Join(dir, e.Name()))
		switch {
		case err != nil:
			r.add("slots", Warning, "remove "+dir+" when no slipway runs; it is made again",
				"host slot %s cannot be locked: %v", e.Name(), err)
		case l == nil:
			r.Slots.InUse++
		default:
			_ = l.Unlock()
		}
	}
}

func (r *Report) checkImages(ctx context.Context, eng *engine.Engine) {
	if eng == nil {
		return
	}
	imgs, err := eng.Images(ctx, map[string]string{labels.Service: ""})
	if err != nil {
		r.add("engine", Warning, "check the engine with "+eng.Name+" image ls", "cannot list slipway's images: %v", err)
		return
	}
	r.Images.Known = true
	seen := map[string]bool{}
	for _, im := range imgs {
		if seen[im.ID] {
			continue
		}
		seen[im.ID] = true
		r.Images.Count++
		r.Images.Bytes += im.Size
	}
}

// capSysResource is CAP_SYS_RESOURCE's bit in the capability sets.
const capSysResource = 24

func (r *Report) checkMachine(o Options) {
	path := o.ProcStatus
	if path == "" {
		path = "/proc/self/status"
	}
	has, err := boundingHas(path, capSysResource)
	if err != nil {
		return
	}
	r.Machine.CapSysResource = &has
	if has {
		return
	}
	// runc gives a privileged container every capability of the bounding
	// set it knows; asking for one the set lacks fails with "unable to
	// apply caps". A runtime that drops it (scripts/lib/slipway-runc) or a
	// Podman configured alike works.
	if r.Engine.DefaultRuntime != "" && strings.Contains(r.Engine.DefaultRuntime, "slipway-runc") {
		return
	}
	r.add("machine", Warning,
		"run dockerd with scripts/lib/slipway-runc as its default runtime (scripts/setup.sh does), or run on a host that grants CAP_SYS_RESOURCE",
		"the capability bounding set lacks CAP_SYS_RESOURCE: privileged containers (Kind nodes) fail with \"unable to apply caps\"")
}

// boundingHas reads the CapBnd line of a /proc/PID/status file.
func boundingHas(path string, bit uint) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("reading capabilities: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return false, fmt.Errorf("reading capabilities: %w", err)
			}
			return n&(1<<bit) != 0, nil
		}
	}
	return false, errors.New("reading capabilities: no CapBnd line")
}

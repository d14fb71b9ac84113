package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOracleReuseMatchesBuildKit is the reuse oracle: it mutates a small
// fleet at random and, after each mutation, asks a real BuildKit whether
// every service slipway reused really had nothing to build.
//
// Why "every step cached" proves a reuse right. BuildKit keys each step on
// its real inputs (the file contents it was sent, the command, its parent
// step), so a build of the current inputs is fully cached only if some
// earlier build ran with exactly these inputs. Earlier builds are slipway's
// own and this oracle's: a nonce file that every Dockerfile copies first
// keeps other tests' and earlier runs' cache out. Take the first wrong
// reuse: slipway re-tags image X, built from inputs I_X, for current inputs
// I != I_X with the same slipway digest D. Had a build of I happened
// before, it was either slipway's, which would have built a second image
// with digest D although one existed (slipway reuses instead), or this
// oracle's, run after slipway had reused a D image for I, which was then
// already a wrong reuse. Neither can precede the first wrong reuse, so its
// oracle build is not fully cached and is counted: 0 counted means 0
// happened. The count can miss repeats of one mistake, never the first.
// Cache lost to a builder prune or GC can only raise false alarms, and the
// log names the step BuildKit ran.
//
// A rebuild is needless when slipway's own build log shows every step
// CACHED: BuildKit already had a build of these inputs (often a mutation
// reverted to an earlier state, which a digest cannot tell from a change;
// or an ENV edit, which changes the image but no step).
//
// Environment: SLIPWAY_ORACLE_MUTATIONS (default 200), SLIPWAY_ORACLE_SEED
// (default: the clock; logged), SLIPWAY_ORACLE_REPORT (a file for the
// figures), SLIPWAY_ORACLE_KEEP_GOING (count past the first wrong reuse).
func TestOracleReuseMatchesBuildKit(t *testing.T) {
	mutations := 200
	if v := os.Getenv("SLIPWAY_ORACLE_MUTATIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("SLIPWAY_ORACLE_MUTATIONS=%q: want a positive number", v)
		}
		mutations = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SLIPWAY_ORACLE_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SLIPWAY_ORACLE_SEED=%q: %v", v, err)
		}
		seed = s
	}
	t.Logf("oracle seed %d (rerun with SLIPWAY_ORACLE_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))

	if out, err := exec.Command("docker", "buildx", "version").CombinedOutput(); err != nil {
		t.Fatalf("the oracle needs docker buildx (run scripts/setup.sh): %v\n%s", err, out)
	}
	f := newFleet(t, rng)
	ctx := context.Background()

	start := time.Now()
	var wrong, needless, reused, built, done int
	verified := map[string]bool{}
	for step := 0; step <= mutations; step++ {
		done = step
		what := "first build"
		if step > 0 {
			what = f.mutate()
		}
		f.writeConfig()
		// The oracle asks Docker's BuildKit: slipway must build there too,
		// even while dockerd restarts (auto-detection would take Podman).
		res := f.r.slipway(ctx, nil, "build", "--engine", "docker", "--progress", "quiet")
		if res.Code != 0 {
			// An engine overwhelmed by a busy machine can time out; a
			// second failure is a real one.
			t.Logf("step %d (%s): slipway build exited %d, retrying once\n%s", step, what, res.Code, res.Stderr)
			time.Sleep(5 * time.Second)
			res = f.r.slipway(ctx, nil, "build", "--engine", "docker", "--progress", "quiet")
		}
		if res.Code != 0 {
			t.Fatalf("step %d (%s): slipway build exited %d\n%s", step, what, res.Code, res.Stderr)
		}
		var notes, reusedNow []string
		for _, s := range slices.Sorted(maps.Keys(res.Meta.Services)) {
			m := res.Meta.Services[s]
			switch m.Status {
			case "reused":
				reused++
				reusedNow = append(reusedNow, s)
			case "built":
				built++
				if step == 0 {
					continue
				}
				all, err := allCachedInLog(m.Log)
				if err != nil {
					t.Errorf("step %d: reading %s's build log: %v", step, s, err)
				} else if all {
					needless++
					notes = append(notes, s)
				}
			default:
				t.Fatalf("step %d: %s has status %q", step, s, m.Status)
			}
		}
		// A service reused as the same image in a repository state the
		// oracle already checked it in has the same answer: skip it.
		state := f.fingerprint()
		var check []string
		for _, s := range reusedNow {
			k := state + "\x00" + s + "\x00" + res.Meta.Services[s].ID
			if !verified[k] {
				verified[k] = true
				check = append(check, s)
			}
		}
		reusedNow = check
		if len(reusedNow) > 0 {
			uncached, images, err := f.oracle(ctx, reusedNow)
			if err != nil {
				t.Logf("step %d: oracle build of %v failed, retrying once: %v", step, reusedNow, err)
				time.Sleep(5 * time.Second)
				uncached, images, err = f.oracle(ctx, reusedNow)
			}
			if err != nil {
				t.Fatalf("step %d: oracle build of %v: %v", step, reusedNow, err)
			}
			for _, s := range reusedNow {
				if len(uncached[s]) > 0 {
					wrong++
					t.Errorf("step %d (%s): WRONG REUSE of %s: BuildKit ran %q", step, what, s, uncached[s])
					continue
				}
				// Every step cached, yet the image must match too:
				// ENV, CMD or LABEL change the config without a step.
				if diff := sameImage(t, res.Meta.Services[s].ID, images[s]); diff != "" {
					wrong++
					t.Errorf("step %d (%s): WRONG REUSE of %s: a build now makes another image: %s", step, what, s, diff)
				}
			}
		}
		if len(notes) > 0 {
			t.Logf("step %d (%s): needless rebuild of %v", step, what, notes)
		}
		if step%25 == 0 {
			t.Logf("step %d: %d reused, %d built, %d wrong, %d needless, %.0f s", step, reused, built, wrong, needless, time.Since(start).Seconds())
		}
		if t.Failed() && os.Getenv("SLIPWAY_ORACLE_KEEP_GOING") == "" {
			break
		}
	}
	secs := time.Since(start).Seconds()
	t.Logf("oracle: %d mutations, %d reused, %d built, WRONG REUSES %d, NEEDLESS REBUILDS %d, %.0f s (seed %d)",
		done, reused, built, wrong, needless, secs, seed)
	if p := os.Getenv("SLIPWAY_ORACLE_REPORT"); p != "" {
		rep := fmt.Sprintf("mutations=%d\nreused=%d\nbuilt=%d\nwrong_reuses=%d\nneedless_rebuilds=%d\nseconds=%.0f\nseed=%d\n",
			done, reused, built, wrong, needless, secs, seed)
		if err := os.WriteFile(p, []byte(rep), 0o644); err != nil {
			t.Errorf("writing %s: %v", p, err)
		}
	}
}

// fleet is the mutated repository and the state its config is written from.
type fleet struct {
	t     *testing.T
	r     *repo
	rng   *rand.Rand
	nonce string // not from the seed: a rerun must not find this run's cache
	// oracleImages are the untagged images the oracle's builds left.
	oracleImages map[string]bool
	// Config state.
	greeting string // b's GREETING arg
	platform string // b's platform field: "" or the host's, spelled out
	target   string // d's target
	extra    map[string]int
	ignore   int // .dockerignore variant
}

const (
	svcA = "FROM " + BaseImage + `
COPY nonce-%S% /nonce
COPY shared/ /shared/
COPY a/ /a/
COPY a/current.txt /current.txt
COPY a/cfg/ /cfg/
`
	svcB = "FROM " + BaseImage + `
COPY nonce-%S% /nonce
ARG GREETING
COPY b/ /b/
RUN echo "$GREETING" > /greeting
`
	svcC = "FROM " + BaseImage + `
COPY nonce-%S% /nonce
RUN --mount=type=bind,source=c/conf,target=/conf cat /conf/c.conf > /c.conf
COPY shared/lib.txt /lib.txt
`
	svcD = "FROM " + BaseImage + ` AS common
COPY nonce-%S% /nonce
COPY d/common.txt /common.txt
FROM common AS dev
COPY d/dev.txt /dev.txt
FROM common AS prod
COPY d/prod.txt /prod.txt
`
)

var dockerfiles = map[string]string{"a": svcA, "b": svcB, "c": svcC, "d": svcD}

// extras are lines a Dockerfile mutation appends: some change the image,
// a comment changes nothing BuildKit builds.
var extras = []string{"", "ENV EXTRA=1\n", "# a comment\n", "RUN echo extra > /extra\n"}

var ignores = []string{"**/*.md\n", "**/*.md\n*.tmp\n", "**/*.md\nshared/extra.txt\n", "**/*.md\nc/conf/ignored.conf\n"}

func newFleet(t *testing.T, rng *rand.Rand) *fleet {
	f := &fleet{t: t, rng: rng, nonce: fmt.Sprintf("%x", rand.Uint64()), greeting: "hello", target: "dev", extra: map[string]int{}}
	f.r = newRepo(t, map[string]string{"a": "", "b": "", "c": "", "d": ""}, "")
	f.oracleImages = map[string]bool{}
	t.Cleanup(func() {
		if len(f.oracleImages) > 0 {
			exec.Command("docker", append([]string{"image", "rm"}, slices.Collect(maps.Keys(f.oracleImages))...)...).Run()
		}
	})
	for s := range dockerfiles {
		// A nonce per service and test run, copied first: no step is
		// shared with another service or an earlier run, so every vertex
		// in the oracle's progress belongs to one service of this run. A
		// COPY needs no container, unlike a RUN.
		f.write("nonce-"+s, f.nonce+"-"+s)
		f.writeDockerfile(s)
	}
	for p, c := range map[string]string{
		"shared/lib.txt": "lib v0", "shared/extra.txt": "extra v0", "shared/notes.md": "notes",
		"a/main.txt": "a v0", "a/versions/v1.txt": "one", "a/versions/v2.txt": "two", "a/versions/v3.txt": "three",
		"b/main.txt": "b v0", "c/conf/c.conf": "conf v0", "c/conf/ignored.conf": "ign v0", "c/unused.txt": "unused",
		"d/common.txt": "common v0", "d/dev.txt": "dev v0", "d/prod.txt": "prod v0",
		"docs/readme.txt": "docs", "unrelated.txt": "nobody copies this",
	} {
		f.write(p, c)
	}
	f.symlink("a/current.txt", "versions/v1.txt")
	f.symlink("a/cfg", "versions")
	f.write(".dockerignore", ignores[0])
	return f
}

func (f *fleet) write(p, c string) {
	f.t.Helper()
	full := filepath.Join(f.r.Dir, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fleet) symlink(p, target string) {
	f.t.Helper()
	full := filepath.Join(f.r.Dir, p)
	os.Remove(full)
	if err := os.Symlink(target, full); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fleet) writeDockerfile(s string) {
	f.write(s+".Dockerfile", strings.ReplaceAll(dockerfiles[s], "%S%", s)+extras[f.extra[s]])
}

// writeConfig writes slipway.yaml from the fleet's state, with only the
// fields the config has always had.
func (f *fleet) writeConfig() {
	var y strings.Builder
	fmt.Fprintf(&y, "project: %s\nservices:\n", f.r.Project)
	for _, s := range slices.Sorted(maps.Keys(dockerfiles)) {
		fmt.Fprintf(&y, "  %s:\n    dockerfile: %s.Dockerfile\n", s, s)
		switch s {
		case "b":
			fmt.Fprintf(&y, "    args:\n      GREETING: %q\n", f.greeting)
			if f.platform != "" {
				fmt.Fprintf(&y, "    platform: %s\n", f.platform)
			}
		case "d":
			fmt.Fprintf(&y, "    target: %s\n", f.target)
		}
	}
	f.write("slipway.yaml", y.String())
}

// fingerprint hashes every file, link and mode of the repository.
func (f *fleet) fingerprint() string {
	f.t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(f.r.Dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%o\x00", p, info.Mode())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00", l)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%d\x00%s", len(b), b)
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// mutate applies one random change and says what it was.
func (f *fleet) mutate() string {
	pick := func(xs ...string) string { return xs[f.rng.IntN(len(xs))] }
	v := fmt.Sprintf("v%d", f.rng.IntN(4)) // few values, so states recur
	switch f.rng.IntN(14) {
	case 0, 1:
		p := pick("shared/lib.txt", "shared/extra.txt", "a/main.txt", "b/main.txt", "d/common.txt", "d/dev.txt", "d/prod.txt")
		f.write(p, p+" "+v)
		return "edit reachable " + p + " = " + v
	case 2:
		p := pick("shared/notes.md", "docs/readme.txt", "unrelated.txt", "c/unused.txt", "b/new.tmp", "a/new.md")
		f.write(p, p+" "+v)
		return "edit unreachable " + p + " = " + v
	case 3:
		if f.rng.IntN(2) == 0 {
			t := pick("../shared", "versions", "/c/conf")
			f.symlink("a/cfg", t)
			return "retarget a/cfg -> " + t
		}
		t := pick("versions/v1.txt", "versions/v2.txt", "versions/v3.txt")
		f.symlink("a/current.txt", t)
		return "retarget a/current.txt -> " + t
	case 4:
		p := pick("a/versions/v1.txt", "a/versions/v2.txt", "a/versions/v3.txt")
		f.write(p, p+" "+v)
		return "edit symlink target candidate " + p + " = " + v
	case 5:
		s := pick("a", "b", "c", "d")
		f.extra[s] = f.rng.IntN(len(extras))
		f.writeDockerfile(s)
		return fmt.Sprintf("Dockerfile %s extra %q", s, extras[f.extra[s]])
	case 6:
		f.greeting = pick("hello", "hi", "hey")
		return "arg GREETING = " + f.greeting
	case 7:
		f.ignore = f.rng.IntN(len(ignores))
		f.write(".dockerignore", ignores[f.ignore])
		return fmt.Sprintf(".dockerignore %q", ignores[f.ignore])
	case 8, 9:
		p := pick("c/conf/c.conf", "c/conf/ignored.conf")
		f.write(p, p+" "+v)
		return "edit bind-mounted " + p + " = " + v
	case 10:
		// Nothing foreign can be pulled or emulated: the host's platform
		// spelled out must equal the default.
		f.platform = pick("", "linux/"+runtime.GOARCH)
		return fmt.Sprintf("b platform %q", f.platform)
	case 11:
		f.target = pick("dev", "prod")
		return "d target " + f.target
	case 12:
		// COPY a/ copies an empty folder too.
		p := filepath.Join(f.r.Dir, "a", "empty")
		if err := os.Remove(p); err == nil {
			return "remove empty folder a/empty"
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			f.t.Fatal(err)
		}
		return "add empty folder a/empty"
	default:
		p := pick("a/added.txt", "shared/added.txt", "c/conf/added.conf", "docs/added.txt")
		if err := os.Remove(filepath.Join(f.r.Dir, p)); err == nil {
			return "remove " + p
		}
		f.write(p, "added")
		return "add " + p
	}
}

// oracle builds the services' current inputs as slipway does, in one
// buildx bake (one BuildKit session for all of them), and returns by
// service the Dockerfile steps BuildKit did not find in its cache.
func (f *fleet) oracle(ctx context.Context, services []string) (uncached map[string][]string, images map[string]string, err error) {
	type target struct {
		Context    string            `json:"context"`
		Dockerfile string            `json:"dockerfile"`
		Target     string            `json:"target,omitempty"`
		Args       map[string]string `json:"args,omitempty"`
		Platforms  []string          `json:"platforms,omitempty"`
		// The image goes to the engine, untagged, so its config and
		// layers can be held against the reused image's; the fleet's
		// cleanup removes it.
		Output []string `json:"output"`
	}
	targets := map[string]target{}
	for _, s := range services {
		tg := target{Context: f.r.Dir, Dockerfile: filepath.Join(f.r.Dir, s+".Dockerfile"), Output: []string{"type=docker"}}
		switch s {
		case "b":
			tg.Args = map[string]string{"GREETING": f.greeting}
			if f.platform != "" {
				tg.Platforms = []string{f.platform}
			}
		case "d":
			tg.Target = f.target
		}
		targets[s] = tg
	}
	def, err := json.Marshal(map[string]any{"target": targets})
	if err != nil {
		return nil, nil, err
	}
	file := filepath.Join(f.t.TempDir(), "bake.json")
	if err := os.WriteFile(file, def, 0o644); err != nil {
		return nil, nil, err
	}
	metaFile := filepath.Join(filepath.Dir(file), "meta.json")
	cmd := exec.CommandContext(ctx, "docker", append([]string{"buildx", "bake", "-f", file, "--progress=rawjson", "--metadata-file", metaFile}, services...)...)
	cmd.Dir = f.r.Dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, nil, fmt.Errorf("%v\n%s", err, stderr.Bytes())
	}
	// rawjson is BuildKit's client.SolveStatus, one JSON object a line
	// (buildx writes it to stderr); a vertex is reported several times.
	// Bake names a vertex "[<target> <stage> 1/3] …" when it builds several
	// targets, "[<stage> 1/3] …" when it builds one.
	type vertex struct {
		Digest string `json:"digest"`
		Name   string `json:"name"`
		Cached bool   `json:"cached"`
	}
	cached, names := map[string]bool{}, map[string]string{}
	sc := bufio.NewScanner(io.MultiReader(&stdout, strings.NewReader("\n"), bytes.NewReader(stderr.Bytes())))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var st struct {
			Vertexes []vertex `json:"vertexes"`
		}
		if json.Unmarshal(sc.Bytes(), &st) != nil {
			continue
		}
		for _, v := range st.Vertexes {
			names[v.Digest] = v.Name
			cached[v.Digest] = cached[v.Digest] || v.Cached
		}
	}
	uncached, steps := map[string][]string{}, map[string]int{}
	images = map[string]string{}
	var meta map[string]map[string]any
	if b, err := os.ReadFile(metaFile); err != nil || json.Unmarshal(b, &meta) != nil {
		return nil, nil, fmt.Errorf("reading bake's metadata file: %v", err)
	}
	for _, s := range services {
		// The docker driver reports the image ID as the image digest.
		id, _ := meta[s]["containerimage.config.digest"].(string)
		if id == "" {
			id, _ = meta[s]["containerimage.digest"].(string)
		}
		if id == "" {
			return nil, nil, fmt.Errorf("bake's metadata has no image of %s: %v", s, meta[s])
		}
		images[s] = id
		f.oracleImages[id] = true
	}
	for d, name := range names {
		svc, rest, ok := strings.Cut(strings.TrimPrefix(name, "["), " ")
		if len(services) == 1 {
			svc, rest, ok = services[0], strings.TrimPrefix(name, "["), true
		}
		if !ok || !strings.HasPrefix(name, "[") || !step.MatchString("["+rest) {
			continue
		}
		steps[svc]++
		if !cached[d] {
			uncached[svc] = append(uncached[svc], name)
		}
	}
	for _, s := range services {
		if steps[s] == 0 {
			return nil, nil, fmt.Errorf("no Dockerfile step of %s in buildx's rawjson output:\n%s", s, stderr.Bytes())
		}
		slices.Sort(uncached[s])
	}
	return uncached, images, nil
}

// sameImage compares the reused image with the oracle's build of the same
// inputs: layers, and config without the labels slipway adds per run.
func sameImage(t *testing.T, reused, built string) string {
	t.Helper()
	a, b := imageShape(t, reused), imageShape(t, built)
	if a != b {
		return fmt.Sprintf("reused %s\n  built  %s", a, b)
	}
	return ""
}

func imageShape(t *testing.T, id string) string {
	t.Helper()
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{json .Config}}\n{{json .RootFS.Layers}}", id).Output()
	if err != nil {
		t.Fatalf("inspecting %s: %v", id, err)
	}
	cfgJSON, layers, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	var cfg map[string]any
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		t.Fatalf("inspecting %s: %v", id, err)
	}
	if labels, ok := cfg["Labels"].(map[string]any); ok {
		for k := range labels {
			if strings.HasPrefix(k, "dev.slipway.") || strings.HasPrefix(k, "org.opencontainers.image.") {
				delete(labels, k)
			}
		}
		if len(labels) == 0 {
			delete(cfg, "Labels")
		}
	}
	norm, _ := json.Marshal(cfg)
	return string(norm) + " layers " + layers
}

// step matches a Dockerfile step's vertex name ("[2/4] COPY …", "[dev 1/2]
// COPY …"), not BuildKit's internal ones ("[internal] load …", exports),
// nor FROM: an image source is resolved, never reported cached, and a
// changed base changes every step after it, which are all checked.
var step = regexp.MustCompile(`^\[(\S+ )?\d+/\d+\] (?:[^F]|F[^R]|FR[^O]|FRO[^M]|FROM\S)`)

// allCachedInLog reports whether a plain-progress build log shows every
// Dockerfile step CACHED.
func allCachedInLog(p string) (bool, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return false, err
	}
	steps, cached := map[string]bool{}, map[string]bool{}
	line := regexp.MustCompile(`^#(\d+) (.*)$`)
	for _, l := range strings.Split(string(b), "\n") {
		m := line.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			continue
		}
		if step.MatchString(m[2]) {
			steps[m[1]] = true
		}
		if m[2] == "CACHED" {
			cached[m[1]] = true
		}
	}
	if len(steps) == 0 {
		return false, fmt.Errorf("no Dockerfile step in %s", p)
	}
	for n := range steps {
		if !cached[n] {
			return false, nil
		}
	}
	return true, nil
}

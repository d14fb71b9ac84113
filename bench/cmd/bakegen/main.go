// Command bakegen turns a slipway.yaml into the two baselines bench/run.sh
// compares slipway against, built from the same Dockerfiles, contexts,
// targets, platforms, build args and labels:
//
//   - a `docker buildx bake` file (JSON), one target per service, all in the
//     default group, with no-cache and a docker (--load) output;
//   - a bash script that builds the services one after another with
//     `docker buildx build --load --no-cache`, the shell-script pattern.
//
// Images are named PREFIX<project>-<service>:TAG so they never collide with
// slipway's own, and carry every -label given, so that run.sh can remove
// exactly what it made.
//
// -no-cache=false makes both warm (bench/speed.sh), -only picks services.
//
//	bakegen -file examples/fleet/slipway.yaml -tag bench123 \
//	        -label dev.slipway.bench=bench123 -bake bake.json -loop loop.sh
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/slipway-dev/slipway/pkg/config"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type bakeTarget struct {
	Context    string            `json:"context"`
	Dockerfile string            `json:"dockerfile"`
	Target     string            `json:"target,omitempty"`
	Platforms  []string          `json:"platforms,omitempty"`
	Args       map[string]string `json:"args,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Tags       []string          `json:"tags"`
	NoCache    bool              `json:"no-cache"`
	Output     []string          `json:"output"`
}

type bakeFile struct {
	Group  map[string]map[string][]string `json:"group"`
	Target map[string]*bakeTarget         `json:"target"`
}

func main() {
	var (
		file    = flag.String("file", "slipway.yaml", "slipway.yaml to read")
		tag     = flag.String("tag", "bench", "tag of every image")
		prefix  = flag.String("prefix", "localhost/slipway-bench-", "image name prefix; the name is PREFIX<project>-<service>")
		bake    = flag.String("bake", "", "write the bake file (JSON) here")
		loop    = flag.String("loop", "", "write the serial-loop bash script here")
		list    = flag.Bool("list", false, "print the image references, one a line")
		noCache = flag.Bool("no-cache", true, "build without the build cache (-no-cache=false: warm builds)")
		only    = flag.String("only", "", "comma-separated services to include (default: all)")
		labels  multiFlag
	)
	flag.Var(&labels, "label", "KEY=VALUE label on every image (repeatable)")
	flag.Parse()
	if err := run(*file, *tag, *prefix, *bake, *loop, *list, labels, *noCache, *only); err != nil {
		fmt.Fprintln(os.Stderr, "bakegen:", err)
		os.Exit(1)
	}
}

func run(file, tag, prefix, bakePath, loopPath string, list bool, extraLabels []string, noCache bool, only string) error {
	cfg, err := config.Load(file)
	if err != nil {
		return err
	}
	bf := bakeFile{Group: map[string]map[string][]string{"default": {"targets": nil}}, Target: map[string]*bakeTarget{}}
	var sh strings.Builder
	sh.WriteString(loopHeader)
	keep := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		if n != "" {
			keep[n] = true
		}
	}
	for _, name := range cfg.Order {
		if len(keep) > 0 && !keep[name] {
			continue
		}
		svc := cfg.Services[name]
		if len(svc.DependsOn) > 0 {
			return fmt.Errorf("service %s: depends_on is not supported by the bench baselines", name)
		}
		ref := fmt.Sprintf("%s%s-%s:%s", prefix, cfg.Project, name, tag)
		lb := map[string]string{}
		for k, v := range svc.Labels {
			lb[k] = v
		}
		for _, kv := range extraLabels {
			k, v, _ := strings.Cut(kv, "=")
			lb[k] = v
		}
		t := &bakeTarget{
			Context:    cfg.ContextDir(svc),
			Dockerfile: cfg.DockerfilePath(svc),
			Target:     svc.Target,
			Args:       svc.Args,
			Labels:     lb,
			Tags:       []string{ref},
			NoCache:    noCache,
			Output:     []string{"type=docker"},
		}
		if svc.Platform != "" {
			t.Platforms = []string{svc.Platform}
		}
		// Bake target names allow [a-zA-Z0-9_-]; slipway names also allow '.'.
		tname := strings.ReplaceAll(name, ".", "_")
		bf.Target[tname] = t
		bf.Group["default"]["targets"] = append(bf.Group["default"]["targets"], tname)

		argv := []string{"docker", "buildx", "build", "--load", "--progress", "plain",
			"-f", t.Dockerfile, "-t", ref}
		if noCache {
			argv = append(argv, "--no-cache")
		}
		if t.Target != "" {
			argv = append(argv, "--target", t.Target)
		}
		if svc.Platform != "" {
			argv = append(argv, "--platform", svc.Platform)
		}
		for _, k := range sortedKeys(t.Args) {
			argv = append(argv, "--build-arg", k+"="+t.Args[k])
		}
		for _, k := range sortedKeys(lb) {
			argv = append(argv, "--label", k+"="+lb[k])
		}
		argv = append(argv, t.Context)
		sh.WriteString("bench_one " + quote(name))
		for _, a := range argv {
			sh.WriteString(" " + quote(a))
		}
		sh.WriteString("\n")
		if list {
			fmt.Println(ref)
		}
	}
	if bakePath != "" {
		data, err := json.MarshalIndent(bf, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(bakePath, append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	if loopPath != "" {
		if err := os.WriteFile(loopPath, []byte(sh.String()), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// loopHeader times each build; BENCH_TIMES (if set) receives "service<TAB>seconds".
const loopHeader = `#!/usr/bin/env bash
# Generated by bench/cmd/bakegen: one cold build per service, one after another.
set -euo pipefail
bench_one() {
  local svc=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$@"
  t1=$(date +%s.%N)
  if [[ -n "${BENCH_TIMES:-}" ]]; then
    printf '%s\t%s\n' "$svc" "$(echo "$t1 - $t0" | bc)" >>"$BENCH_TIMES"
  fi
}
`

func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

// quote makes s one bash word.
func quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

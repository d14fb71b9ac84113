// Command overhead times, one at a time on a quiet engine, the pieces a
// tiny service's build costs slipway: a docker CLI process, the buildx
// plugin's start, a whole fully-cached `docker buildx build --load`
// (process pair + session + context upload + solve + export) against the
// same build as one solve on a long-lived BuildKit connection, and the
// engine calls and record writes around a build (CLI process against the
// Docker API). It prints a markdown table of medians.
//
//	go run ./bench/cmd/overhead -n 15
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/pkg/build"
	"github.com/slipway-dev/slipway/pkg/build/buildkit"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/run"
)

const base = "slipway.local/base/debian:bookworm"

func main() {
	n := flag.Int("n", 15, "repetitions of each measurement")
	records := flag.Int("services", 100, "services in the run record for the record-write measurement")
	flag.Parse()
	ctx := context.Background()
	if err := runAll(ctx, *n, *records); err != nil {
		fmt.Fprintln(os.Stderr, "overhead:", err)
		os.Exit(1)
	}
}

type row struct {
	what string
	ms   []float64
}

func (r row) median() float64 {
	s := slices.Clone(r.ms)
	slices.Sort(s)
	return s[len(s)/2]
}

func timeIt(n int, f func(i int) error) ([]float64, error) {
	var out []float64
	for i := 0; i < n; i++ {
		t := time.Now()
		if err := f(i); err != nil {
			return nil, err
		}
		out = append(out, float64(time.Since(t).Microseconds())/1000)
	}
	return out, nil
}

func runAll(ctx context.Context, n, records int) error {
	eng, err := engine.Detect(ctx, "docker")
	if err != nil {
		return err
	}
	eng.DetectBuildx(ctx)
	cliEng := &engine.Engine{Name: eng.Name, Bin: eng.Bin, Buildx: eng.Buildx} // no API: every call a process
	dir, err := os.MkdirTemp("", "slipway-overhead-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+base+"\nCOPY payload.txt /payload.txt\nRUN cat /payload.txt >/out.txt\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "payload.txt"), []byte("overhead\n"), 0o644); err != nil {
		return err
	}
	tag := fmt.Sprintf("slipway.local/overhead/tiny:%d", time.Now().Unix())
	defer exec.Command("docker", "image", "rm", tag, tag+"-t").Run()
	req := func() build.Request {
		return build.Request{Service: "tiny", Log: io.Discard, Spec: engine.BuildSpec{
			Dockerfile: filepath.Join(dir, "Dockerfile"), Context: dir, Tags: []string{tag},
			Labels: map[string]string{"dev.slipway.bench": "overhead"}}}
	}
	cli := &build.Builder{Engine: cliEng, TempDir: dir}
	direct, av := buildkit.Open(ctx, eng, "", buildkit.Options{})
	if direct == nil {
		return fmt.Errorf("direct path: %s", av.Reason)
	}
	defer direct.Close()
	// Prime the cache once, so every timed build is fully cached.
	if _, err := cli.Build(ctx, req()); err != nil {
		return err
	}
	var rows []row
	add := func(what string, f func(i int) error) error {
		ms, err := timeIt(n, f)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		rows = append(rows, row{what, ms})
		return nil
	}
	steps := []struct {
		what string
		f    func(i int) error
	}{
		{"`docker version` (a docker CLI process that asks the daemon)", func(int) error {
			return exec.Command("docker", "version", "--format", "{{.Server.Version}}").Run()
		}},
		{"`docker buildx version` (docker + buildx plugin processes)", func(int) error {
			return exec.Command("docker", "buildx", "version").Run()
		}},
		{"fully cached tiny build: `docker buildx build --load` (CLI builder)", func(int) error {
			_, err := cli.Build(ctx, req())
			return err
		}},
		{"fully cached tiny build: one solve on the open BuildKit connection (direct builder)", func(int) error {
			_, err := direct.Build(ctx, req())
			return err
		}},
		{"connect to BuildKit (dial /grpc, list workers) — once per run", func(int) error {
			d, av := buildkit.Open(ctx, eng, "", buildkit.Options{})
			if d == nil {
				return fmt.Errorf("%s", av.Reason)
			}
			return d.Close()
		}},
		{"inspect an image: `docker image inspect` (CLI)", func(int) error {
			_, err := cliEng.Inspect(ctx, tag)
			return err
		}},
		{"inspect an image: Docker API", func(int) error {
			_, err := eng.Inspect(ctx, tag)
			return err
		}},
		{"tag an image: `docker tag` (CLI)", func(i int) error {
			return cliEng.Tag(ctx, tag, tag+"-t")
		}},
		{"tag an image: Docker API", func(i int) error {
			return eng.Tag(ctx, tag, tag+"-t")
		}},
		{"list the user's images by label: `docker image ls` + `inspect` (CLI)", func(int) error {
			_, err := cliEng.Images(ctx, map[string]string{"dev.slipway.bench": "overhead"})
			return err
		}},
		{"list the user's images by label: Docker API", func(int) error {
			_, err := eng.Images(ctx, map[string]string{"dev.slipway.bench": "overhead"})
			return err
		}},
	}
	for _, s := range steps {
		if err := add(s.what, s.f); err != nil {
			return err
		}
	}
	// One run-record write with `records` services (a run writes it about
	// three times per service: queued, building, built).
	r, err := run.Start(filepath.Join(dir, "state"), run.Record{Run: run.NewID(time.Now()), Services: map[string]*run.Service{}})
	if err != nil {
		return err
	}
	defer r.Close()
	for i := 0; i < records; i++ {
		_ = r.Update(func(rec *run.Record) {
			rec.Services[fmt.Sprintf("s%03d", i)] = &run.Service{Image: "slipway.local/x/s:" + strings.Repeat("t", 40), Log: filepath.Join(dir, "logs", "s.log")}
		})
	}
	if err := add(fmt.Sprintf("write the run record (%d services)", records), func(int) error {
		return r.Update(func(*run.Record) {})
	}); err != nil {
		return err
	}
	fmt.Printf("| step | median ms | min ms | max ms | n |\n|---|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Printf("| %s | %.1f | %.1f | %.1f | %d |\n", r.what, r.median(), slices.Min(r.ms), slices.Max(r.ms), len(r.ms))
	}
	return nil
}

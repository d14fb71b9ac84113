// Package build is `slipway build`: flags in, slipway.Build, a table out.
package build

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	buildpkg "github.com/slipway-dev/slipway/pkg/build"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
	"github.com/slipway-dev/slipway/pkg/config"
	"github.com/slipway-dev/slipway/pkg/progress"
	"github.com/slipway-dev/slipway/pkg/report"
	"github.com/slipway-dev/slipway/pkg/run"
)

type flags struct {
	tag, engine, progress, metadataFile      string
	metadataFormat, reuse, registry, builder string
	shard                                    string
	push                                     bool
	platforms                                []string
	jobs, hostJobs                           int
	keepGoing, noCache, cleanup              bool
	report                                   bool
	timeout                                  time.Duration
	kindWait                                 time.Duration
	nodes                                    []string
	cacheFrom, cacheTo                       []string
}

// New returns the build command.
func New(s cli.Streams, g *cli.Globals) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "build [SERVICE|GROUP ...]",
		Short: "Build services (all by default) in parallel, each under a unique tag",
		Long: "build builds the named services and groups (default: all), and what they depend on, in\n" +
			"dependency order, as many at once as the machine allows. A service whose inputs did not\n" +
			"change since an image of it was built is re-tagged, not rebuilt.\n\n" +
			"--kind loads each image into a Kind cluster as soon as it is built: the one --cluster\n" +
			"names, else $KIND_CLUSTER_NAME, else the config's kind.cluster, else the only cluster.\n" +
			"--kind takes no value: every argument is a service or group (--kind=NAME still works,\n" +
			"with a notice; write --cluster NAME).",
		Example: `  slipway build
  slipway build gateway api
  slipway build e2e --kind --cluster fleet-test
  slipway build --push --registry registry.example.com:5000
  slipway build -o json > result.json`,
		ValidArgsFunction: cli.CompleteServices(g),
	}
	out := cli.AddOutput(cmd)
	cl := cli.AddCluster(cmd, s.Err, cli.ClusterUsage{
		Kind:    "load each image into a Kind cluster as soon as it is built (the cluster: --cluster, else KIND_CLUSTER_NAME, the config's kind.cluster, or the only one)",
		Cluster: "the Kind cluster to load into (implies --kind)",
	})
	unpack := cli.AddUnpack(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx, err := unpack.Context(cmd.Context())
		if err != nil {
			return err
		}
		cmd.SetContext(ctx)
		return runBuild(cmd, s, g, f, out, cl, args)
	}
	fl := cmd.Flags()
	fl.StringVar(&f.tag, "tag", "", "use this tag for every image (else IMAGE_TAG, else the config's template)")
	fl.IntVarP(&f.jobs, "jobs", "j", 0, "at most this many builds at once (default: the CPUs, more while the CPU idles, fewer when memory is short)")
	fl.IntVar(&f.hostJobs, "host-jobs", 0, "at most this many builds at once across every slipway on this machine (default: $SLIPWAY_HOST_JOBS, else none)")
	fl.BoolVarP(&f.keepGoing, "keep-going", "k", false, "after a failure, build everything that does not depend on it")
	fl.DurationVar(&f.timeout, "timeout", 0, "give up on any one build after this long (e.g. 15m); 0 means never")
	cli.AddEngine(cmd, &f.engine, "docker or podman (default: a reachable docker, else podman)")
	fl.StringVar(&f.progress, "progress", "auto", "auto, tty, plain, json or quiet")
	_ = cmd.RegisterFlagCompletionFunc("progress", cli.CompleteFixed("auto", "tty", "plain", "json", "quiet"))
	fl.StringVar(&f.metadataFile, "metadata-file", "", "write the run's result as JSON to this file")
	fl.BoolVar(&f.push, "push", false, "push each image to its registry as soon as it is built (credentials: the engine's login store)")
	fl.StringVar(&f.registry, "registry", "", "put every image under this registry host (default: the config's registry)")
	fl.StringSliceVar(&f.platforms, "platform", nil, "build for these platforms, e.g. linux/amd64,linux/arm64 (several need --push)")
	fl.StringVar(&f.builder, "builder", "", "build on this buildx builder, e.g. a remote BuildKit daemon")
	fl.StringVar(&f.shard, "shard", "", "build only part i of n of the services (i/n), for CI fan-out")
	fl.StringVar(&f.metadataFormat, "metadata-format", "slipway", "shape of --metadata-file: slipway, bake (docker buildx bake --metadata-file) or skaffold (--file-output)")
	_ = cmd.RegisterFlagCompletionFunc("metadata-format", cli.CompleteFixed(run.Formats...))
	fl.StringVar(&f.reuse, "reuse", "", "use an existing image of this tag instead of building (default: $SLIPWAY_REUSE_TAG)")
	fl.BoolVar(&f.noCache, "no-cache", false, "run every build step again")
	fl.StringArrayVar(&f.cacheFrom, "cache-from", nil, "BuildKit cache source for every service, as buildx takes it (type=registry,ref=REF; repeatable; replaces the config's cache_from)")
	fl.StringArrayVar(&f.cacheTo, "cache-to", nil, "BuildKit cache export for every service, as buildx takes it (type=registry,ref=REF,mode=max; repeatable; replaces the config's cache_to)")
	fl.StringSliceVar(&f.nodes, "nodes", nil, "with --kind, only these nodes")
	fl.BoolVar(&f.report, "report", false, "at the end, write the run's HTML timeline (see slipway report) and print its path")
	fl.DurationVar(&f.kindWait, "kind-wait", 0, "with --kind, start building before the cluster exists (while kind create cluster runs) and let each load wait up to this long for it, e.g. 10m")
	fl.BoolVar(&f.cleanup, "cleanup", false, "with --kind, remove each image from the local engine once it is in every node")
	return cmd
}

func runBuild(cmd *cobra.Command, s cli.Streams, g *cli.Globals, f *flags, out *cli.Output, cl *cli.Cluster, args []string) error {
	switch f.progress {
	case "auto", "tty", "plain", "json", "quiet":
	default:
		return cli.UsageErr("--progress %q: want auto, tty, plain, json or quiet", f.progress)
	}
	if !slices.Contains(run.Formats, f.metadataFormat) {
		return cli.UsageErr("--metadata-format %q: want one of %v", f.metadataFormat, run.Formats)
	}
	if err := out.Check(); err != nil {
		return err
	}
	if f.jobs < 0 || f.hostJobs < 0 {
		return cli.UsageErr("--jobs and --host-jobs must be 0 or more")
	}
	if f.timeout < 0 {
		return cli.UsageErr("--timeout %s: must not be negative", f.timeout)
	}
	jobs := f.jobs
	if cmd.Flags().Changed("jobs") && jobs == 0 {
		jobs = -1 // an explicit 0 means no limit
	}
	kindOpts, err := cl.KindOptions(f.nodes)
	if err != nil {
		return err
	}
	if kindOpts != nil {
		if err := notACluster(g, args); err != nil {
			return err
		}
		kindOpts.Wait = f.kindWait
	}
	switch {
	case f.kindWait < 0:
		return cli.UsageErr("--kind-wait %s: must not be negative", f.kindWait)
	case f.kindWait > 0 && kindOpts == nil:
		return cli.UsageErr("--kind-wait needs --kind or --cluster")
	}
	tagv, err := cli.TagFromEnv(f.tag)
	if err != nil {
		return err
	}
	hostJobs, err := cli.HostJobsFromEnv(f.hostJobs)
	if err != nil {
		return err
	}
	rep := progress.New(f.progress, s.Err, cli.IsTerminal(s.Err))
	res, err := slipway.Build(cmd.Context(), slipway.Options{
		Config: g.File, Services: args, Tag: tagv, Jobs: jobs, HostJobs: hostJobs, KeepGoing: f.keepGoing,
		Timeout: f.timeout, Engine: f.engine, NoCache: f.noCache, Reporter: rep, Kind: kindOpts,
		Cleanup: f.cleanup, ReuseTag: cli.ReuseFromEnv(f.reuse),
		Push: f.push, Registry: f.registry, Platforms: f.platforms, Builder: f.builder, Shard: f.shard,
		CacheFrom: f.cacheFrom, CacheTo: f.cacheTo,
	})
	rep.Close()
	if res == nil {
		return err
	}
	if f.metadataFile != "" {
		if werr := writeMetadata(f.metadataFile, f.metadataFormat, res.Metadata); werr != nil && err == nil {
			err = werr
		}
	}
	for _, img := range res.Failures() {
		var fail *buildpkg.Failure
		if errors.As(img.Err, &fail) {
			fmt.Fprintln(s.Err, fail.Detail())
		} else {
			fmt.Fprintf(s.Err, "%s: %v\n", img.Service, img.Err)
		}
	}
	if out.JSON() {
		_ = cli.WriteJSON(s.Out, res.Metadata)
	} else {
		printTable(s.Out, res)
		history, _ := run.Records(res.StateDir)
		printSummary(s.Out, res.Metadata.Totals(history))
	}
	if f.report {
		w, rerr := report.Write(report.WriteOptions{StateDir: res.StateDir, Run: res.Run})
		if rerr == nil {
			fmt.Fprintln(s.Err, "report:", w.HTML)
		} else if err == nil {
			err = rerr
		}
	}
	return err
}

func printTable(w io.Writer, res *slipway.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tIMAGE\tSTATUS\tDURATION\tKIND")
	for _, svc := range res.Order {
		img := res.Images[svc]
		d := "-"
		if img.Duration > 0 {
			d = img.Duration.Round(100 * time.Millisecond).String()
		}
		k := "-"
		if img.Kind != nil {
			k = slipway.NodeSummary(img.Kind)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", svc, img.Ref, img.Status, d, k)
	}
	tw.Flush()
	fmt.Fprintf(w, "run %s (logs: %s)\n", res.Run, res.RunDir)
}

func writeMetadata(path, format string, rec run.Record) error {
	b, err := rec.Marshal(format)
	if err != nil {
		return err
	}
	if err := run.WriteFileAtomic(path, b); err != nil {
		return fmt.Errorf("writing metadata file: %w", err)
	}
	return nil
}

// printSummary is the line under the table: how long the run took, how
// much building it did in that time, and what reuse saved.
func printSummary(w io.Writer, t run.Totals) {
	line := "wall " + round(t.Wall)
	if t.Build > 0 {
		line += fmt.Sprintf(", build time %s (%.1fx the wall time)", round(t.Build), t.SpeedUp())
	}
	if t.Reused > 0 {
		line += fmt.Sprintf(", %d reused", t.Reused)
		switch {
		case t.Saved > 0 && t.Unknown > 0:
			line += fmt.Sprintf(" saving at least %s of builds (%d built by runs no longer recorded)", round(t.Saved), t.Unknown)
		case t.Saved > 0:
			line += fmt.Sprintf(" saving %s of builds", round(t.Saved))
		default:
			line += " (their builds are in no run record left)"
		}
	}
	fmt.Fprintln(w, line)
}

func round(d time.Duration) string {
	if d >= time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// notACluster explains an argument that is no service or group when
// --kind is given: before, --kind took an optional cluster name, so
// `build --kind fleet-test` meant the cluster; now it means the switch and
// a service fleet-test.
func notACluster(g *cli.Globals, args []string) error {
	cfg, err := config.Load(cmp.Or(g.File, "."))
	if err != nil {
		return nil // the build reports the config's problem itself
	}
	for _, a := range args {
		if _, err := cfg.Select(a); err != nil {
			return cli.UsageErr("%q is not a service or group; --kind takes no value (it is a switch): to load into the Kind cluster %[1]s, write --cluster %[1]s", a)
		}
	}
	return nil
}

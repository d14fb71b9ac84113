// Package watch is `slipway watch`: flags in, watch.Watch, one line per
// cycle out.
package watch

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
	"github.com/slipway-dev/slipway/pkg/progress"
	"github.com/slipway-dev/slipway/pkg/watch"
)

type flags struct {
	engine, registry, exec, progress string
	nodes                            []string
	push                             bool
	jobs                             int
	debounce                         time.Duration
}

// New returns the watch command.
func New(s cli.Streams, g *cli.Globals) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use: "watch [SERVICE|GROUP ...]",
		Example: `  slipway watch e2e --kind --cluster dev
  slipway watch gateway --kind --exec 'kubectl set image deployment/gateway app=$SLIPWAY_IMAGE_GATEWAY'
  slipway watch --push --registry localhost:5000`,
		Short: "Rebuild and deliver services whenever their inputs change, until Ctrl-C",
		Long: `Build the services (all by default) once, then watch the files their builds
read (contexts, Dockerfiles, named contexts; not what .dockerignore or
.gitignore excludes). After each burst of edits, rebuild the services whose
inputs changed, and their dependents, and load them into Kind (--kind) or
push them (--push), printing one line per cycle. An edit during a cycle
cancels it. --exec runs a command after each cycle with the images in
SLIPWAY_IMAGE_<SERVICE> and as JSON on stdin. Each cycle is a run; the watch
removes the runs it superseded, so 'slipway clean' afterwards removes what
it left.`,
		ValidArgsFunction: cli.CompleteServices(g),
	}
	cl := cli.AddCluster(cmd, s.Err, cli.ClusterUsage{
		Kind:    "load each cycle's images into a Kind cluster (the cluster: --cluster, else KIND_CLUSTER_NAME, the config's kind.cluster, or the only one)",
		Cluster: "the Kind cluster to load into (implies --kind)",
	})
	unpack := cli.AddUnpack(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx, err := unpack.Context(cmd.Context())
		if err != nil {
			return err
		}
		cmd.SetContext(ctx)
		return runWatch(cmd, s, g, f, cl, args)
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.nodes, "nodes", nil, "with --kind, only these nodes")
	fl.BoolVar(&f.push, "push", false, "push each image to its registry (credentials: the engine's login store)")
	fl.StringVar(&f.registry, "registry", "", "put every image under this registry host (default: the config's registry)")
	fl.StringVar(&f.exec, "exec", "", "after each cycle, run this with sh -c (images in SLIPWAY_IMAGE_<SERVICE> and as JSON on stdin)")
	fl.StringVar(&f.engine, "engine", "", "docker or podman (default: a reachable docker, else podman)")
	fl.IntVarP(&f.jobs, "jobs", "j", 0, "at most this many builds at once (default: adaptive)")
	fl.DurationVar(&f.debounce, "debounce", watch.DefaultDebounce, "wait this long after the last file event before building")
	fl.StringVar(&f.progress, "progress", "quiet", "build progress: quiet (one line per cycle), plain or json")
	return cmd
}

func runWatch(cmd *cobra.Command, s cli.Streams, g *cli.Globals, f *flags, cl *cli.Cluster, args []string) error {
	switch f.progress {
	case "quiet", "plain", "json":
	default:
		return cli.UsageErr("--progress %q: want quiet, plain or json", f.progress)
	}
	if f.debounce < 0 {
		return cli.UsageErr("--debounce %s: must not be negative", f.debounce)
	}
	if f.jobs < 0 {
		return cli.UsageErr("--jobs must be 0 or more")
	}
	kindOpts, err := cl.KindOptions(f.nodes)
	if err != nil {
		return err
	}
	hostJobs, err := cli.HostJobsFromEnv(0)
	if err != nil {
		return err
	}
	rep := progress.New(f.progress, s.Err, false)
	defer rep.Close()
	return watch.Watch(cmd.Context(), watch.Options{
		Build: slipway.Options{Config: g.File, Services: args, Jobs: f.jobs, HostJobs: hostJobs,
			Engine: f.engine, Reporter: rep, Kind: kindOpts, Push: f.push, Registry: f.registry},
		Debounce: f.debounce, Exec: f.exec,
		Out: s.Out, Err: s.Err, ExecOut: s.Out, ExecErr: s.Err,
	})
}

// Package clean is `slipway clean`: remove one run's images everywhere it put them.
package clean

import (
	"cmp"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
	"github.com/slipway-dev/slipway/pkg/config"
)

// New returns the clean command.
func New(s cli.Streams, g *cli.Globals) *cobra.Command {
	var o slipway.CleanOptions
	var last bool
	cmd := &cobra.Command{
		Use:   "clean [--run ID | --last]",
		Short: "Remove one run's images from the engine and every Kind node it reached",
		Long: "clean removes the names one run gave, in the engine and in every Kind cluster the run\n" +
			"loaded into — never another run's or another user's. The default is this project's\n" +
			"newest run; `slipway runs` lists them. --kind also cleans the default Kind cluster,\n" +
			"--cluster NAME a named one (for images loaded with `slipway load` after the run).",
		Example: `  slipway clean
  slipway clean --run 20261127T044503-a1b2c3 --dry-run
  slipway clean --last --cluster fleet-test
  slipway clean --dry-run -o json`,
	}
	out := cli.AddOutput(cmd)
	cl := cli.AddCluster(cmd, s.Err, cli.ClusterUsage{
		Kind:    "also clean the default Kind cluster (KIND_CLUSTER_NAME, the config's kind.cluster, or the only one); those the run loaded into always are",
		Cluster: "also clean this Kind cluster (repeatable); those the run loaded into always are",
		Multi:   true,
	})
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := out.Check(); err != nil {
			return err
		}
		if last && o.Run != "" {
			return cli.UsageErr("--run and --last exclude each other")
		}
		var cfgCluster string
		if c, err := config.Load(cmp.Or(g.File, ".")); err == nil {
			cfgCluster = c.Kind.Cluster
			if o.Run == "" {
				// --last means this repository's newest run, when there is one.
				o.Project = c.Project
			}
		}
		clusters, err := cl.Resolve(cfgCluster)
		if err != nil {
			return err
		}
		o.Clusters = clusters
		r, err := slipway.Clean(cmd.Context(), o)
		if r != nil {
			if out.JSON() {
				if jerr := cli.WriteJSON(s.Out, cli.RemovalJSON(r)); err == nil {
					err = jerr
				}
			} else {
				cli.PrintRemoval(s.Out, r)
			}
		}
		return err
	}
	cmd.Flags().StringVar(&o.Run, "run", "", "the run ID (see slipway runs)")
	_ = cmd.RegisterFlagCompletionFunc("run", cli.CompleteRuns)
	cmd.Flags().BoolVar(&last, "last", false, "the newest run (the default)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "clean a run that is still in progress")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "print what would be removed, remove nothing")
	cli.AddEngine(cmd, &o.Engine, "docker or podman (default: the run's)")
	return cmd
}

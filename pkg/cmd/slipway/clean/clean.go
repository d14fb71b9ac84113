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
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if last && o.Run != "" {
				return cli.UsageErr("--run and --last exclude each other")
			}
			if o.Run == "" {
				// --last means this repository's newest run, when there is one.
				if c, err := config.Load(cmp.Or(g.File, ".")); err == nil {
					o.Project = c.Project
				}
			}
			r, err := slipway.Clean(cmd.Context(), o)
			if r != nil {
				cli.PrintRemoval(s.Out, r)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&o.Run, "run", "", "the run ID (see the build's result or the run folder)")
	cmd.Flags().BoolVar(&last, "last", false, "the newest run (the default)")
	cmd.Flags().StringSliceVar(&o.Clusters, "kind", nil, "also clean these Kind clusters (those the run loaded into always are)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "clean a run that is still in progress")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "print what would be removed, remove nothing")
	cmd.Flags().StringVar(&o.Engine, "engine", "", "docker or podman (default: the run's)")
	return cmd
}

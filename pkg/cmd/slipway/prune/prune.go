// Package prune is `slipway prune`: remove slipway's own images by age and owner.
package prune

import (
	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
)

// New returns the prune command.
func New(s cli.Streams, _ *cli.Globals) *cobra.Command {
	var o slipway.PruneOptions
	cmd := &cobra.Command{
		Use:   "prune --older-than DURATION",
		Short: "Remove slipway-made images by age and owner, in the engine and Kind nodes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("older-than") {
				return cli.UsageErr("--older-than is required (e.g. 24h; 0 means every age)")
			}
			if o.AllUsers && o.User != "" {
				return cli.UsageErr("--user and --all-users exclude each other")
			}
			r, err := slipway.Prune(cmd.Context(), o)
			if r != nil {
				cli.PrintRemoval(s.Out, r)
			}
			return err
		},
	}
	cmd.Flags().DurationVar(&o.OlderThan, "older-than", 0, "remove image names given longer ago than this (e.g. 24h), and run folders and tag reservations of runs that ended before it")
	cmd.Flags().StringVar(&o.User, "user", "", "whose images (default: yours)")
	cmd.Flags().BoolVar(&o.AllUsers, "all-users", false, "every user's slipway images")
	cmd.Flags().StringVar(&o.Project, "project", "", "only this project's images")
	cmd.Flags().IntVar(&o.Keep, "keep", 0, "keep the newest N images of each service in each place")
	cmd.Flags().StringSliceVar(&o.Clusters, "kind", nil, "also prune these Kind clusters' nodes")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "print what would be removed, remove nothing")
	cmd.Flags().StringVar(&o.Engine, "engine", "", "docker or podman")
	return cmd
}

// Package prune is `slipway prune`: remove slipway's own images by age and owner.
package prune

import (
	"cmp"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
	"github.com/slipway-dev/slipway/pkg/config"
)

// New returns the prune command.
func New(s cli.Streams, g *cli.Globals) *cobra.Command {
	var o slipway.PruneOptions
	cmd := &cobra.Command{
		Use:   "prune --older-than DURATION",
		Short: "Remove slipway-made images by age and owner, in the engine and Kind nodes",
		Long: "prune removes image names slipway gave longer ago than --older-than, of one user (you,\n" +
			"by default) or all, from the engine and — with --kind or --cluster — from Kind nodes;\n" +
			"then the run folders and tag reservations nothing is left of. Names a running run uses\n" +
			"and images a container uses stay.",
		Example: `  slipway prune --older-than 24h --dry-run
  slipway prune --older-than 168h --keep 2 --project fleet
  slipway prune --older-than 0 --all-users --cluster ci -o json`,
	}
	out := cli.AddOutput(cmd)
	cl := cli.AddCluster(cmd, s.Err, cli.ClusterUsage{
		Kind:    "also prune the default Kind cluster's nodes (KIND_CLUSTER_NAME, the config's kind.cluster, or the only one)",
		Cluster: "also prune this Kind cluster's nodes (repeatable)",
		Multi:   true,
	})
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := out.Check(); err != nil {
			return err
		}
		if !cmd.Flags().Changed("older-than") {
			return cli.UsageErr("--older-than is required (e.g. 24h; 0 means every age)")
		}
		if o.AllUsers && o.User != "" {
			return cli.UsageErr("--user and --all-users exclude each other")
		}
		var cfgCluster string
		if cl.On {
			if c, err := config.Load(cmp.Or(g.File, ".")); err == nil {
				cfgCluster = c.Kind.Cluster
			}
		}
		clusters, err := cl.Resolve(cfgCluster)
		if err != nil {
			return err
		}
		o.Clusters = clusters
		r, err := slipway.Prune(cmd.Context(), o)
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
	cmd.Flags().DurationVar(&o.OlderThan, "older-than", 0, "remove image names given longer ago than this (e.g. 24h), and run folders and tag reservations of runs that ended before it")
	cmd.Flags().StringVar(&o.User, "user", "", "whose images (default: yours)")
	cmd.Flags().BoolVar(&o.AllUsers, "all-users", false, "every user's slipway images")
	cmd.Flags().StringVar(&o.Project, "project", "", "only this project's images")
	cmd.Flags().IntVar(&o.Keep, "keep", 0, "keep the newest N images of each service in each place")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "print what would be removed, remove nothing")
	cli.AddEngine(cmd, &o.Engine, "docker or podman")
	return cmd
}

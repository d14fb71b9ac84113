// Package ls is `slipway ls`: slipway's images in the engine and on Kind nodes.
package ls

import (
	"cmp"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
	"github.com/slipway-dev/slipway/pkg/config"
)

// New returns the ls command.
func New(s cli.Streams, g *cli.Globals) *cobra.Command {
	var engineName string
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"df"},
		Short:   "List slipway's images by service, user, run, age and size, with totals",
		Long: "ls lists the image names slipway gave, in the engine and on the nodes of every Kind\n" +
			"cluster found (--kind: only the default cluster; --cluster NAME: only those).",
		Example: `  slipway ls
  slipway ls --cluster fleet-test
  slipway ls -o json | jq 'map(.size) | add'`,
	}
	out := cli.AddOutput(cmd)
	cl := cli.AddCluster(cmd, s.Err, cli.ClusterUsage{
		Kind:    "look only in the default Kind cluster (KIND_CLUSTER_NAME, the config's kind.cluster, or the only one)",
		Cluster: "look only in this Kind cluster (repeatable; default: every cluster found)",
		Multi:   true,
	})
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := out.Check(); err != nil {
			return err
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
		cs, err := slipway.List(cmd.Context(), slipway.ListOptions{Engine: engineName, Clusters: clusters})
		var partial *slipway.Unlisted
		if errors.As(err, &partial) {
			fmt.Fprintln(s.Err, "slipway: warning:", partial)
			err = nil
		}
		if err != nil {
			return err
		}
		if out.JSON() {
			return cli.WriteJSON(s.Out, cli.CopiesJSON(cs))
		}
		cli.PrintCopies(s.Out, cs)
		return nil
	}
	cli.AddEngine(cmd, &engineName, "docker or podman")
	return cmd
}

// Package load is `slipway load`: put images into a Kind cluster.
package load

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
)

// New returns the load command.
func New(s cli.Streams, g *cli.Globals) *cobra.Command {
	var o slipway.LoadOptions
	var engineName, from string
	cmd := &cobra.Command{
		Use:   "load [--from FILE] SERVICE|IMAGE ...",
		Short: "Load images into a Kind cluster, sending only what each node lacks",
		Long: "A SERVICE loads the image the newest run of this project built for it;\n" +
			"anything with ':' or '/' is taken as an image reference.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if from != "" {
				if len(args) > 0 {
					return cli.UsageErr("--from loads a whole archive: give no images")
				}
				rs, err := slipway.Resolve(slipway.ResolveOptions{Config: g.File}, nil)
				if err != nil {
					return err
				}
				o.ConfigCluster, o.Archive = rs.Cluster, from
				if err := slipway.LoadArchive(cmd.Context(), o); err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "loaded %s\n", from)
				return nil
			}
			if len(args) == 0 {
				return cli.UsageErr("name at least one SERVICE or IMAGE (or --from FILE)")
			}
			rs, err := slipway.Resolve(slipway.ResolveOptions{Config: g.File}, args)
			if err != nil {
				return err
			}
			// Images named by service are in the engine their run used.
			refs := rs.Refs
			o.Engine, o.ConfigCluster = engineName, rs.Cluster
			if o.Engine == "" {
				o.Engine = rs.Engine
			}
			res, err := slipway.Load(cmd.Context(), o, refs...)
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "IMAGE\tCLUSTER\tNODES\tDURATION")
			for _, r := range refs {
				l := res[r]
				if l == nil {
					continue
				}
				var parts []string
				for _, n := range slipway.SortedServices(l.Nodes) {
					parts = append(parts, n+"="+string(l.Nodes[n]))
				}
				if l.Err != nil {
					parts = append(parts, "error: "+l.Err.Error())
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r, l.Cluster, strings.Join(parts, " "), l.Duration.Round(1e6))
			}
			tw.Flush()
			return err
		},
	}
	cmd.Flags().StringVar(&o.Kind.Cluster, "cluster", "", "Kind cluster (default: KIND_CLUSTER_NAME, the config's kind.cluster, or the only cluster)")
	cmd.Flags().StringSliceVar(&o.Kind.Nodes, "nodes", nil, "only these nodes (comma-separated names)")
	cmd.Flags().StringVar(&from, "from", "", "stream this archive (from slipway export) into the nodes")
	cmd.Flags().StringVar(&engineName, "engine", "", "engine holding the images: docker or podman")
	return cmd
}

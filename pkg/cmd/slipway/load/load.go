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
			"anything with ':' or '/' is taken as an image reference. The cluster is --cluster, else\n" +
			"$KIND_CLUSTER_NAME, else the config's kind.cluster, else the only cluster.",
		Example: `  slipway load gateway api
  slipway load --cluster fleet-test localhost/fleet-gateway:gateway-jane-abc1234-1764218703
  slipway load --from images.tar --cluster ci
  slipway load gateway -o json`,
		ValidArgsFunction: cli.CompleteServices(g),
	}
	out := cli.AddOutput(cmd)
	unpack := cli.AddUnpack(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := out.Check(); err != nil {
			return err
		}
		ctx, err := unpack.Context(cmd.Context())
		if err != nil {
			return err
		}
		cmd.SetContext(ctx)
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
			if out.JSON() {
				return cli.WriteJSON(s.Out, struct {
					Archive string `json:"archive"`
				}{from})
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
		if out.JSON() {
			if jerr := cli.WriteJSON(s.Out, loadsJSON(refs, res)); err == nil {
				err = jerr
			}
			return err
		}
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
	}
	cmd.Flags().StringVar(&o.Kind.Cluster, "cluster", "", "Kind cluster (default: KIND_CLUSTER_NAME, the config's kind.cluster, or the only cluster)")
	cmd.Flags().StringSliceVar(&o.Kind.Nodes, "nodes", nil, "only these nodes (comma-separated names)")
	cmd.Flags().StringVar(&from, "from", "", "stream this archive (from slipway export) into the nodes")
	_ = cmd.RegisterFlagCompletionFunc("cluster", cli.CompleteClusters)
	_ = cmd.MarkFlagFilename("from", "tar")
	cli.AddEngine(cmd, &engineName, "engine holding the images: docker or podman")
	return cmd
}

// loadJSON is one image's load for -o json.
type loadJSON struct {
	Image      string            `json:"image"`
	Cluster    string            `json:"cluster"`
	Nodes      map[string]string `json:"nodes"`
	DurationMS int64             `json:"duration_ms"`
	Error      string            `json:"error,omitempty"`
}

func loadsJSON(refs []string, res map[string]*slipway.Loaded) []loadJSON {
	out := []loadJSON{}
	for _, r := range refs {
		l := res[r]
		if l == nil {
			continue
		}
		j := loadJSON{Image: r, Cluster: l.Cluster, Nodes: map[string]string{}, DurationMS: l.Duration.Milliseconds()}
		for n, a := range l.Nodes {
			j.Nodes[n] = string(a)
		}
		if l.Err != nil {
			j.Error = l.Err.Error()
		}
		out = append(out, j)
	}
	return out
}

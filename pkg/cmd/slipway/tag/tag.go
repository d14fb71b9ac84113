// Package tag is `slipway tag`: print the references a build would produce.
package tag

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
)

// New returns the tag command.
func New(s cli.Streams, g *cli.Globals) *cobra.Command {
	var t, registry string
	cmd := &cobra.Command{
		Use:   "tag [SERVICE|GROUP ...]",
		Short: "Print the image references a build would produce",
		Long: "tag prints, for each service, the reference a build would give it now, without building\n" +
			"or asking the engine (a build may add a suffix to a generated tag taken by then).",
		Example: `  slipway tag
  slipway tag gateway --registry registry.example.com:5000
  IMAGE_TAG=pr-42 slipway tag -o json`,
		ValidArgsFunction: cli.CompleteServices(g),
	}
	out := cli.AddOutput(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := out.Check(); err != nil {
			return err
		}
		tagv, err := cli.TagFromEnv(t)
		if err != nil {
			return err
		}
		refs, err := slipway.Tags(cmd.Context(), slipway.Options{Config: g.File, Services: args, Tag: tagv, Registry: registry})
		if err != nil {
			return err
		}
		if out.JSON() {
			return cli.WriteJSON(s.Out, refs)
		}
		for _, svc := range slipway.SortedServices(refs) {
			fmt.Fprintf(s.Out, "%s\t%s\n", svc, refs[svc])
		}
		return nil
	}
	cmd.Flags().StringVar(&registry, "registry", "", "put every image under this registry host (as build --registry)")
	cmd.Flags().StringVar(&t, "tag", "", "use this tag for every image (else IMAGE_TAG, else the config's template)")
	return cmd
}

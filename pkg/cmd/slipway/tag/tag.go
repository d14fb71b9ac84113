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
		RunE: func(cmd *cobra.Command, args []string) error {
			tagv, err := cli.TagFromEnv(t)
			if err != nil {
				return err
			}
			refs, err := slipway.Tags(cmd.Context(), slipway.Options{Config: g.File, Services: args, Tag: tagv, Registry: registry})
			if err != nil {
				return err
			}
			for _, svc := range slipway.SortedServices(refs) {
				fmt.Fprintf(s.Out, "%s\t%s\n", svc, refs[svc])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&registry, "registry", "", "put every image under this registry host (as build --registry)")
	cmd.Flags().StringVar(&t, "tag", "", "use this tag for every image (else IMAGE_TAG, else the config's template)")
	return cmd
}

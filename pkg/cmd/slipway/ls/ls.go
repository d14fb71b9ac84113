// Package ls is `slipway ls`: slipway's images in the engine and on Kind nodes.
package ls

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
)

// New returns the ls command.
func New(s cli.Streams, _ *cli.Globals) *cobra.Command {
	var clusters []string
	var engineName string
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"df"},
		Short:   "List slipway's images by service, user, run, age and size, with totals",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, err := slipway.List(cmd.Context(), slipway.ListOptions{Engine: engineName, Clusters: clusters})
			cli.PrintCopies(s.Out, cs)
			var partial *slipway.Unlisted
			if errors.As(err, &partial) {
				fmt.Fprintln(s.Err, "slipway: warning:", partial)
				return nil
			}
			return err
		},
	}
	cmd.Flags().StringSliceVar(&clusters, "kind", nil, "Kind clusters to look in (default: all found)")
	cmd.Flags().StringVar(&engineName, "engine", "", "docker or podman")
	return cmd
}

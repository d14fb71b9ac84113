// Package export is `slipway export`: built images as one archive, for CI artifacts.
package export

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
)

// New returns the export command.
func New(s cli.Streams, g *cli.Globals) *cobra.Command {
	var out, engineName string
	cmd := &cobra.Command{
		Use:   "export -o FILE [SERVICE|IMAGE ...]",
		Short: "Write images (default: everything the newest run produced) as one archive",
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return cli.UsageErr("-o FILE is required")
			}
			refs, err := slipway.Export(cmd.Context(), slipway.ExportOptions{Config: g.File, Engine: engineName, Path: out, Images: args})
			for _, r := range refs {
				fmt.Fprintf(s.Out, "exported %s\n", r)
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "the archive to write")
	cmd.Flags().StringVar(&engineName, "engine", "", "docker or podman")
	return cmd
}

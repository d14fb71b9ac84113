// Package importcmd is `slipway import`: load an exported archive into the engine.
package importcmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
)

// New returns the import command.
func New(s cli.Streams, _ *cli.Globals) *cobra.Command {
	var engineName string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Load an archive written by slipway export into the engine (image IDs are kept)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := slipway.Import(cmd.Context(), slipway.ImportOptions{Engine: engineName, Path: args[0]})
			for _, r := range refs {
				fmt.Fprintf(s.Out, "imported %s\n", r)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&engineName, "engine", "", "docker or podman")
	return cmd
}

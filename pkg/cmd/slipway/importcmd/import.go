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
		Example: `  slipway import images.tar
  slipway import images.tar && slipway build --reuse "$IMAGE_TAG"`,
		Args: cobra.ExactArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return []cobra.Completion{"tar"}, cobra.ShellCompDirectiveFilterFileExt
		},
	}
	out := cli.AddOutput(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := out.Check(); err != nil {
			return err
		}
		refs, err := slipway.Import(cmd.Context(), slipway.ImportOptions{Engine: engineName, Path: args[0]})
		if out.JSON() {
			if refs == nil {
				refs = []string{}
			}
			if jerr := cli.WriteJSON(s.Out, struct {
				Images []string `json:"images"`
			}{refs}); err == nil {
				err = jerr
			}
			return err
		}
		for _, r := range refs {
			fmt.Fprintf(s.Out, "imported %s\n", r)
		}
		return err
	}
	cli.AddEngine(cmd, &engineName, "docker or podman")
	return cmd
}

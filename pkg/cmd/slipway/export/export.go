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
	var archive, engineName string
	cmd := &cobra.Command{
		Use:   "export --archive FILE [SERVICE|IMAGE ...]",
		Short: "Write images (default: everything the newest run produced) as one archive",
		Long: "export writes images as one archive — a SERVICE is the image the newest run of this\n" +
			"project built for it — that `slipway import` or `slipway load --from` read back.\n" +
			"-o is the output format, as everywhere; the archive is --archive (-o FILE, its old\n" +
			"spelling, still works, with a notice).",
		Example: `  slipway export --archive images.tar
  slipway export --archive e2e.tar gateway datastorage
  slipway export --archive images.tar -o json`,
		ValidArgsFunction: cli.CompleteServices(g),
	}
	out := cli.AddOutput(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if out.Format != cli.Text && out.Format != cli.JSON && out.Format != "table" {
			// The old spelling: -o named the archive.
			if archive != "" {
				return cli.UsageErr("--archive %s and -o %s: -o is the output format (text or json)", archive, out.Format)
			}
			fmt.Fprintf(s.Err, "slipway: export -o FILE is deprecated: -o is the output format now; write --archive %s\n", out.Format)
			archive, out.Format = out.Format, cli.Text
		}
		if err := out.Check(); err != nil {
			return err
		}
		if archive == "" {
			return cli.UsageErr("--archive FILE is required")
		}
		refs, err := slipway.Export(cmd.Context(), slipway.ExportOptions{Config: g.File, Engine: engineName, Path: archive, Images: args})
		if out.JSON() {
			if jerr := cli.WriteJSON(s.Out, struct {
				Archive string   `json:"archive"`
				Images  []string `json:"images"`
			}{archive, nonNil(refs)}); err == nil {
				err = jerr
			}
			return err
		}
		for _, r := range refs {
			fmt.Fprintf(s.Out, "exported %s\n", r)
		}
		return err
	}
	cmd.Flags().StringVar(&archive, "archive", "", "the archive to write")
	_ = cmd.MarkFlagFilename("archive", "tar")
	cli.AddEngine(cmd, &engineName, "docker or podman")
	return cmd
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

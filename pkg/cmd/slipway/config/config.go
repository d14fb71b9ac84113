// Package config is `slipway config`: inspect slipway.yaml.
package config

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/pkg/cmd/cli"
	"github.com/slipway-dev/slipway/pkg/config"
)

// New returns the config command with its subcommands.
func New(s cli.Streams, g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect slipway.yaml"}
	cmd.AddCommand(&cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of slipway.yaml",
		Example: `  slipway config schema > slipway.schema.json
  # or point an editor at it: # yaml-language-server: $schema=<the schema's $id>`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			b, err := config.Schema()
			if err != nil {
				return err
			}
			// The embedded schema already ends in a newline.
			if _, err := s.Out.Write(b); err != nil {
				return fmt.Errorf("writing the schema: %w", err)
			}
			return nil
		},
	}, newCheck(s, g))
	return cmd
}

// newCheck is `config check`: every problem of the config and its
// Dockerfiles at once, each at file:line:col. It exits 2 when there is one.
func newCheck(s cli.Streams, g *cli.Globals) *cobra.Command {
	var out *cli.Output
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate slipway.yaml and its Dockerfiles, reporting every problem",
		Long: `Validate slipway.yaml: unknown keys, values of the wrong kind, services,
groups, depends_on, the tag and image templates (rendered with sample
values), platforms, and each service's Dockerfile and target. Every
problem is reported at once, as FILE:LINE:COL: MESSAGE, with the name
probably meant. Exits 2 when there is any.`,
		Example: `  slipway config check
  slipway config check -f ci/slipway.yaml -o json | jq '.errors[] | "\(.line):\(.col) \(.message)"'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.Check(); err != nil {
				return err
			}
			path := g.File
			if path == "" {
				path = "."
			}
			r, err := config.Check(cmd.Context(), path)
			if err != nil {
				return cli.UsageErr("%v", err)
			}
			if out.JSON() {
				if err := cli.WriteJSON(s.Out, r); err != nil {
					return err
				}
				if !r.Valid {
					return &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("%s: %d problems", r.File, len(r.Errors))}
				}
				return nil
			}
			if !r.Valid {
				for _, e := range r.Errors {
					fmt.Fprintln(s.Err, e.Error())
				}
				plural := "s"
				if len(r.Errors) == 1 {
					plural = ""
				}
				fmt.Fprintf(s.Err, "%d problem%s\n", len(r.Errors), plural)
				return &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("%s: %d problem%s", r.File, len(r.Errors), plural)}
			}
			fmt.Fprintf(s.Out, "%s: %d services: %v\n", r.File, len(r.Services), r.Services)
			return nil
		},
	}
	out = cli.AddOutput(cmd)
	return cmd
}

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
		Args:  cobra.NoArgs,
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
	}, &cobra.Command{
		Use:   "check",
		Short: "Validate slipway.yaml and list its services",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path := g.File
			if path == "" {
				path = "."
			}
			c, err := config.Load(path)
			if err != nil {
				return cli.UsageErr("%v", err)
			}
			fmt.Fprintf(s.Out, "%s: %d services: %v\n", c.Path, len(c.Order), c.Order)
			return nil
		},
	})
	return cmd
}

// Package initcmd is `slipway init`: propose a slipway.yaml from a
// repository's Dockerfiles.
package initcmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
)

// New returns the init command.
func New(s cli.Streams, _ *cli.Globals) *cobra.Command {
	var write bool
	var project string
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Propose a slipway.yaml from the repository's Dockerfiles (print it, or --write it)",
		Long: "init finds the Dockerfiles under DIR (default: the working directory) and proposes a\n" +
			"service for each — one per final stage when a Dockerfile has several — with the build\n" +
			"context its COPY and ADD sources need, its target, and depends_on for FROM ${NAME_IMAGE}\n" +
			"(the build arg slipway passes a dependency's image under). What it could not decide is\n" +
			"written as comments. It prints the file; --write writes DIR/slipway.yaml, never over one.",
		Example: `  slipway init
  slipway init ./my-repo --project shop
  slipway init --write && slipway config check && slipway build`,
		Args: cobra.MaximumNArgs(1),
	}
	out := cli.AddOutput(cmd, "yaml", cli.JSON)
	cmd.RunE = func(_ *cobra.Command, args []string) error {
		if err := out.Check(); err != nil {
			return err
		}
		dir := "."
		if len(args) == 1 {
			dir = args[0]
		}
		p, err := slipway.ProposeConfig(slipway.ProposeOptions{Dir: dir, Project: project})
		if err != nil {
			return &slipway.UsageError{Err: err}
		}
		if write {
			path, err := slipway.WriteConfig(dir, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Err, "wrote %s (%d services); check it with: slipway config check\n", path, len(p.Services))
			if !out.JSON() {
				return nil
			}
		}
		if out.JSON() {
			return cli.WriteJSON(s.Out, p)
		}
		_, err = s.Out.Write(p.YAML())
		return err
	}
	cmd.Flags().BoolVar(&write, "write", false, "write DIR/slipway.yaml (never over an existing one)")
	cmd.Flags().StringVar(&project, "project", "", "the project name (default: DIR's name)")
	return cmd
}

// Package version is `slipway version`: slipway's own version and, with
// --all, the engine's, buildx's and kind's.
package version

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
)

// New returns the version command.
func New(s cli.Streams, _ *cli.Globals) *cobra.Command {
	var all bool
	var engineName string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print slipway's version, commit and Go version (--all: engine, buildx, kind too)",
		Example: `  slipway version
  slipway --version
  slipway version --all -o json`,
		Args: cli.NoArgs,
	}
	out := cli.AddOutput(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := out.Check(); err != nil {
			return err
		}
		v := slipway.Version()
		var tools *slipway.ToolVersions
		if all {
			t := slipway.Tools(cmd.Context(), engineName)
			tools = &t
		}
		if out.JSON() {
			return cli.WriteJSON(s.Out, struct {
				slipway.VersionInfo
				Tools *slipway.ToolVersions `json:"tools,omitempty"`
			}{v, tools})
		}
		Print(s.Out, v, tools)
		return nil
	}
	cmd.Flags().BoolVar(&all, "all", false, "also the engine's, buildx's and kind's versions")
	cli.AddEngine(cmd, &engineName, "with --all, this engine's version: docker or podman (default: the first installed)")
	return cmd
}

// Print writes the version as text.
func Print(w io.Writer, v slipway.VersionInfo, tools *slipway.ToolVersions) {
	fmt.Fprintf(w, "slipway %s\n", v.Version)
	if v.Commit != "" {
		m := ""
		if v.Modified {
			m = " (modified)"
		}
		fmt.Fprintf(w, "  commit:  %s%s %s\n", v.Commit, m, v.CommitTime)
	}
	fmt.Fprintf(w, "  go:      %s %s\n", v.Go, v.Platform)
	if v.KindLibrary != "" {
		fmt.Fprintf(w, "  kind library: %s\n", v.KindLibrary)
	}
	if tools == nil {
		return
	}
	for _, t := range []slipway.Tool{tools.Engine, tools.Buildx, tools.Kind} {
		line := t.Version
		if t.Server != "" {
			line += " (server " + t.Server + ")"
		}
		if t.Error != "" {
			line += " — " + t.Error
		}
		fmt.Fprintf(w, "  %-8s %s\n", t.Name+":", line)
	}
}

// Package slipway is the root cobra command; each verb lives in its own
// folder below, thin over the library.
package slipway

import (
	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/pkg/cmd/cli"
	buildcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/build"
	cleancmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/clean"
	configcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/config"
	exportcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/export"
	importcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/importcmd"
	loadcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/load"
	lscmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/ls"
	prunecmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/prune"
	reportcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/report"
	tagcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/tag"
	watchcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/watch"
)

// New returns the slipway command tree.
func New(s cli.Streams) *cobra.Command {
	g := &cli.Globals{}
	root := &cobra.Command{
		Use:           "slipway",
		Short:         "Build every image of a multi-service repo, uniquely tagged, in parallel",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.PersistentFlags().StringVarP(&g.File, "file", "f", "", "slipway.yaml to use (default: found by walking up from the working directory)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.UsageErr("%v", err) })
	root.AddCommand(buildcmd.New(s, g), tagcmd.New(s, g), configcmd.New(s, g), loadcmd.New(s, g),
		cleancmd.New(s, g), prunecmd.New(s, g), lscmd.New(s, g),
		exportcmd.New(s, g), importcmd.New(s, g), reportcmd.New(s, g), watchcmd.New(s, g))
	return root
}

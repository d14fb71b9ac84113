// Package slipway is the root cobra command; each verb lives in its own
// folder below, thin over the library.
package slipway

import (
	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
	buildcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/build"
	cleancmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/clean"
	configcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/config"
	doctorcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/doctor"
	exportcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/export"
	importcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/importcmd"
	initcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/initcmd"
	loadcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/load"
	lscmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/ls"
	prunecmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/prune"
	reportcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/report"
	runscmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/runs"
	tagcmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/tag"
	versioncmd "github.com/slipway-dev/slipway/pkg/cmd/slipway/version"
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
	v := slipway.Version()
	root.Version = v.String()
	root.SetVersionTemplate("slipway {{.Version}}\n")
	root.Example = `  slipway init --write        # propose a slipway.yaml from the repository's Dockerfiles
  slipway doctor              # check the engine, buildx, Kind and the machine
  slipway build               # build every service, each under a unique tag
  slipway build e2e --kind    # build a group and load it into the Kind cluster
  slipway runs                # list runs
  slipway clean               # remove what the newest run made`
	root.AddCommand(buildcmd.New(s, g), tagcmd.New(s, g), configcmd.New(s, g), loadcmd.New(s, g),
		cleancmd.New(s, g), prunecmd.New(s, g), lscmd.New(s, g),
		exportcmd.New(s, g), importcmd.New(s, g), reportcmd.New(s, g), watchcmd.New(s, g))
	root.AddCommand(versioncmd.New(s, g), doctorcmd.New(s, g), initcmd.New(s, g), runscmd.New(s, g))
	// Last: it hardens every command above, and cobra's own.
	cli.Harden(root)
	return root
}

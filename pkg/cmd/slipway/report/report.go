// Package report is `slipway report`: a run's timeline as one HTML file,
// and optionally its Chrome trace.
package report

import (
	"cmp"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
	"github.com/slipway-dev/slipway/pkg/config"
	"github.com/slipway-dev/slipway/pkg/report"
)

// New returns the report command.
func New(s cli.Streams, g *cli.Globals) *cobra.Command {
	var o report.WriteOptions
	var last bool
	cmd := &cobra.Command{
		Use: "report [RUN | --last] [--html FILE] [--trace FILE]",
		Example: `  slipway report                      # the newest run of this repository
  slipway report 20261127T051828 --html build.html
  slipway report --last --trace build.trace.json   # also a trace Perfetto opens
  slipway build --report                # write it at the end of a build`,
		Short: "Write a run's timeline as one self-contained HTML file (and a Chrome trace), and print its path",
		Long: `Write a run's timeline — per service: waiting for dependencies, waiting for a slot,
building (with BuildKit's steps), reused, pushing, loading into each Kind node — with
the critical path, totals and the log tail of each failed service, as one HTML file that
needs no network (attach it to a CI run). --trace also writes the spans as Chrome
trace-event JSON, which Perfetto (ui.perfetto.dev) and chrome://tracing open.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: cli.CompleteRuns,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if last {
					return cli.UsageErr("RUN and --last exclude each other")
				}
				o.Run = args[0]
			} else if c, err := config.Load(cmp.Or(g.File, ".")); err == nil {
				// The newest run means this repository's, when it has one.
				o.Project = c.Project
			}
			w, err := report.Write(o)
			if errors.Is(err, report.ErrNoRun) {
				return &slipway.UsageError{Err: err}
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(s.Out, w.HTML)
			if w.Trace != "" {
				fmt.Fprintln(s.Out, w.Trace)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&last, "last", false, "the newest run (the default)")
	cmd.Flags().StringVar(&o.HTML, "html", "", "write the page here (default: report.html in the run's folder)")
	cmd.Flags().StringVar(&o.Trace, "trace", "", "also write Chrome trace-event JSON here (opens in Perfetto)")
	return cmd
}

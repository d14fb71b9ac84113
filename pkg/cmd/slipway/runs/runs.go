// Package runs is `slipway runs`: the runs in the state folder, newest
// first, with their time, user, services, status and what is left of them.
package runs

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
)

// New returns the runs command.
func New(s cli.Streams, _ *cli.Globals) *cobra.Command {
	var o slipway.RunsOptions
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List runs, newest first: time, user, services, status, and whether their images are still there",
		Long: "runs reads the state folder ($SLIPWAY_STATE_DIR, else $XDG_STATE_HOME/slipway, else\n" +
			"~/.local/state/slipway). IMAGES is how many names a run still owns in the engine —\n" +
			"what `slipway clean --run ID` would remove there; \"cleaned\" means none are left.\n" +
			"A run whose record never got an end and whose process is gone shows as \"died\".",
		Example: `  slipway runs
  slipway runs --project fleet -n 5
  slipway runs -o json | jq -r '.[0].run'
  slipway clean --run "$(slipway runs -n 1 -o json | jq -r '.[0].run')"`,
		Args: cli.NoArgs,
	}
	out := cli.AddOutput(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := out.Check(); err != nil {
			return err
		}
		if o.Limit < 0 {
			return cli.UsageErr("--limit %d: must not be negative", o.Limit)
		}
		rs, err := slipway.Runs(cmd.Context(), o)
		if err != nil {
			return err
		}
		if out.JSON() {
			return cli.WriteJSON(s.Out, rs)
		}
		Print(s.Out, rs, time.Now())
		return nil
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Project, "project", "", "only this project's runs")
	fl.StringVar(&o.User, "user", "", "only this user's runs")
	fl.IntVarP(&o.Limit, "limit", "n", 0, "only the newest N runs (0: all)")
	fl.BoolVar(&o.Offline, "offline", false, "do not ask the engine which runs still have images")
	cli.AddEngine(cmd, &o.Engine, "engine to ask about images: docker or podman")
	return cmd
}

// Print writes the runs as a table.
func Print(w io.Writer, rs []slipway.RunInfo, now time.Time) {
	if len(rs) == 0 {
		fmt.Fprintln(w, "no runs recorded")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED\tDURATION\tUSER\tPROJECT\tSTATUS\tSERVICES\tIMAGES")
	for _, r := range rs {
		d := "-"
		if r.Ended != nil {
			d = (time.Duration(r.Duration) * time.Millisecond).Round(100 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s ago\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, units.HumanDuration(now.Sub(r.Started)), d, r.User, r.Project,
			r.Status, services(r), images(r))
	}
	tw.Flush()
}

// services is "api, web, +3 (2 built, 3 reused)".
func services(r slipway.RunInfo) string {
	names := r.Services
	more := ""
	if len(names) > 3 {
		more = fmt.Sprintf(", +%d", len(names)-3)
		names = names[:3]
	}
	var counts []string
	for _, c := range []struct {
		n    int
		what string
	}{{r.Built, "built"}, {r.Reused, "reused"}, {r.Failed, "failed"}} {
		if c.n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	s := strings.Join(names, ", ") + more
	if len(counts) > 0 {
		s += " (" + strings.Join(counts, ", ") + ")"
	}
	return s
}

func images(r slipway.RunInfo) string {
	switch {
	case r.Status == slipway.RunStatus("running"):
		return "running"
	case r.Images == nil:
		return "?"
	case r.Cleaned:
		return "cleaned"
	}
	return fmt.Sprintf("%d in engine", *r.Images)
}

// Package doctor is `slipway doctor`: what a build and a load will meet
// on this machine, and one line to fix each problem.
package doctor

import (
	"errors"
	"fmt"
	"io"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/cmd/cli"
)

// New returns the doctor command.
func New(s cli.Streams, _ *cli.Globals) *cobra.Command {
	var o slipway.DoctorOptions
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the engine, buildx, Kind clusters, state folder and machine; one line per problem with its fix",
		Long: "doctor looks at what a build and a load will meet: the container engine and whether it\n" +
			"answers, buildx and its builders, kind and each cluster's nodes (provider, containerd,\n" +
			"snapshotter, whether loads can skip the layers a node holds), the state folder, host\n" +
			"build slots in use, the disk slipway's images take, and known machine problems.\n\n" +
			"It exits 1 when something would stop a build or a load, 0 otherwise (warnings too).",
		Example: `  slipway doctor
  slipway doctor --cluster fleet-test
  slipway doctor -o json | jq '.problems[] | select(.severity == "blocker")'`,
		Args: cli.NoArgs,
	}
	out := cli.AddOutput(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := out.Check(); err != nil {
			return err
		}
		d, err := slipway.Doctor(cmd.Context(), o)
		if err != nil {
			return err
		}
		if out.JSON() {
			if err := cli.WriteJSON(s.Out, d); err != nil {
				return err
			}
		} else {
			Print(s.Out, d)
		}
		if d.Blocking() {
			return &cli.ExitError{Code: cli.ExitFailed, Err: errors.New("doctor found problems that stop a build or a load")}
		}
		return nil
	}
	cli.AddEngine(cmd, &o.Engine, "check this engine: docker or podman (default: as a build picks it)")
	cmd.Flags().StringVar(&o.BuildxBuilder, "builder", "", "check the direct BuildKit path to this buildx builder (as build --builder)")
	cmd.Flags().StringSliceVar(&o.Clusters, "cluster", nil, "inspect only these Kind clusters (default: every cluster found)")
	_ = cmd.RegisterFlagCompletionFunc("cluster", cli.CompleteClusters)
	return cmd
}

// Print writes the diagnosis as text: one line per area, then problems.
func Print(w io.Writer, d *slipway.Diagnosis) {
	line := func(area, format string, args ...any) {
		fmt.Fprintf(w, "%-11s%s\n", area, fmt.Sprintf(format, args...))
	}
	line("slipway", "%s", d.Version)
	e := d.Engine
	switch {
	case e.Reachable:
		extra := []string{"reachable"}
		if e.API != "" {
			extra = append(extra, "API "+e.API)
		}
		if e.DefaultRuntime != "" {
			extra = append(extra, "runtime "+e.DefaultRuntime)
		}
		server := ""
		if e.Server != "" {
			server = " (server " + e.Server + ")"
		}
		line("engine", "%s %s%s: %s", e.Name, e.Version, server, strings.Join(extra, ", "))
	default:
		line("engine", "%s: not reachable", e.Name)
	}
	if d.Buildx.Version != "" {
		var bs []string
		for _, b := range d.Buildx.Builders {
			cur := ""
			if b.Current {
				cur = "*"
			}
			bs = append(bs, fmt.Sprintf("%s%s (%s, %s, BuildKit %s, %s)", b.Name, cur, b.Driver, orDash(b.Status), orDash(b.BuildKit), orDash(strings.Join(b.Platforms, ","))))
		}
		line("buildx", "%s; builders: %s", d.Buildx.Version, strings.Join(bs, "; "))
	} else {
		line("buildx", "missing")
	}
	line("builder", "%s", d.Builder.Detail)
	k := d.Kind
	cliv := k.CLI.Version
	if cliv == "" {
		cliv = "CLI not installed"
	}
	line("kind", "%s (library %s), %d cluster(s)", cliv, orDash(k.Library), len(k.Clusters))
	for _, c := range k.Clusters {
		if c.Error != "" {
			fmt.Fprintf(w, "  cluster %s: %s\n", c.Name, c.Error)
			continue
		}
		fmt.Fprintf(w, "  cluster %s on %s: %d node(s)\n", c.Name, c.Provider, len(c.Nodes))
		for _, n := range c.Nodes {
			la := "layer-aware loads"
			if !n.LayerAware {
				la = "whole-image loads"
			}
			if !n.Loadable {
				la = "cannot load"
			}
			fmt.Fprintf(w, "    %s (%s): containerd %s, snapshotter %s, %s\n", n.Name, orDash(n.Role), orDash(n.Containerd), orDash(n.Snapshotter), la)
		}
	}
	st := d.State
	line("state", "%s: %d run(s), %d running, %s, %s", st.Dir, st.Runs, st.Running, units.BytesSize(float64(st.Bytes)), map[bool]string{true: "writable", false: "NOT writable"}[st.Writable])
	line("host slots", "%s: %d in use of %d", d.Slots.Dir, d.Slots.InUse, d.Slots.Slots)
	if d.Images.Known {
		line("images", "%d slipway image(s) in the engine, %s", d.Images.Count, units.BytesSize(float64(d.Images.Bytes)))
	} else {
		line("images", "unknown (no engine)")
	}
	if c := d.Machine.CapSysResource; c != nil {
		line("machine", "CAP_SYS_RESOURCE in the bounding set: %t", *c)
	}
	fmt.Fprintln(w)
	if len(d.Problems) == 0 {
		fmt.Fprintln(w, "no problems found")
		return
	}
	for _, p := range d.Problems {
		fmt.Fprintf(w, "%s: %s: %s — fix: %s\n", p.Severity, p.Area, p.Message, p.Fix)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

package cli

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/pkg/config"
	"github.com/slipway-dev/slipway/pkg/kind"
	"github.com/slipway-dev/slipway/pkg/run"
)

// Dynamic completion. Each answers from what is on disk (the config, the
// state folder) or, for clusters, from kind's own listing, as load finds
// them: never a build, never an image listing, so a Tab stays fast.

// CompleteServices offers the config's services and groups not yet given.
func CompleteServices(g *Globals) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		cfg, err := config.Load(cmp.Or(g.File, "."))
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, s := range cfg.Order {
			if !slices.Contains(args, s) && strings.HasPrefix(s, toComplete) {
				out = append(out, cobra.CompletionWithDesc(s, "service: "+cfg.Services[s].Dockerfile))
			}
		}
		for _, name := range slices.Sorted(maps.Keys(cfg.Groups)) {
			if !slices.Contains(args, name) && strings.HasPrefix(name, toComplete) {
				out = append(out, cobra.CompletionWithDesc(name, "group: "+strings.Join(cfg.Groups[name], " ")))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteClusters offers every Kind cluster found, on docker or podman.
func CompleteClusters(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	all := kind.List()
	var out []cobra.Completion
	for _, name := range slices.Sorted(maps.Keys(all)) {
		if strings.HasPrefix(name, toComplete) {
			out = append(out, cobra.CompletionWithDesc(name, "Kind cluster on "+strings.Join(all[name], ", ")))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// CompleteRuns offers the run IDs in the state folder, newest first, each
// with its project, user and state.
func CompleteRuns(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	recs, err := run.Records(run.StateDir())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, r := range recs {
		if strings.HasPrefix(r.Run, toComplete) {
			out = append(out, cobra.CompletionWithDesc(r.Run, fmt.Sprintf("%s by %s, %s, %d services", r.Project, r.User, r.State, len(r.Services))))
		}
	}
	// Newest first: keep the shell from sorting them by name alone.
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
}

// CompleteEngines offers the engines.
var CompleteEngines = cobra.FixedCompletions([]string{"docker", "podman"}, cobra.ShellCompDirectiveNoFileComp)

// CompleteFixed offers fixed values.
func CompleteFixed(values ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}

// AddEngine adds --engine with its completion.
func AddEngine(cmd *cobra.Command, p *string, usage string) {
	cmd.Flags().StringVar(p, "engine", "", usage)
	_ = cmd.RegisterFlagCompletionFunc("engine", CompleteEngines)
}

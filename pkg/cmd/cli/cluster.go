package cli

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/slipway-dev/slipway"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/pkg/kind"
)

// Cluster is how every command names Kind clusters: --kind is a switch
// (use Kind; the cluster is --cluster, else KIND_CLUSTER_NAME, else the
// config's kind.cluster, else the only cluster) and --cluster NAME names
// it. The old spelling --kind=NAME still works, with a notice.
type Cluster struct {
	// On is set by --kind, and by naming a cluster.
	On bool
	// named are the clusters --cluster gave; legacy those --kind=NAME gave.
	named, legacy []string
	one           string
	multi         bool
	warn          io.Writer
}

// ClusterUsage says what the flags mean on one command.
type ClusterUsage struct {
	// Kind is --kind's help text; Cluster is --cluster's.
	Kind, Cluster string
	// Multi lets --cluster be given several times (clean, prune, ls).
	Multi bool
}

// AddCluster adds --kind and --cluster to cmd; the --kind=NAME notice goes
// to warn.
func AddCluster(cmd *cobra.Command, warn io.Writer, u ClusterUsage) *Cluster {
	c := &Cluster{multi: u.Multi, warn: warn}
	fl := cmd.Flags()
	fl.Var(kindValue{c}, "kind", u.Kind)
	fl.Lookup("kind").NoOptDefVal = "true"
	if u.Multi {
		fl.StringSliceVar(&c.named, "cluster", nil, u.Cluster)
		// These commands take no arguments, but `--kind NAME`, the old
		// spelling, leaves NAME as one: take it as the cluster it meant.
		cmd.Args = func(cmd *cobra.Command, args []string) error {
			if err := c.Args(cmd, args); err != nil {
				return err
			}
			c.Legacy(args)
			return nil
		}
	} else {
		fl.StringVar(&c.one, "cluster", "", u.Cluster)
	}
	_ = cmd.RegisterFlagCompletionFunc("cluster", CompleteClusters)
	return c
}

// kindValue is --kind: a switch that also takes the old --kind=NAME.
type kindValue struct{ c *Cluster }

func (k kindValue) String() string {
	if k.c == nil {
		return "false"
	}
	return strconv.FormatBool(k.c.On)
}

// Type is "bool" so that help shows --kind alone, as for a switch.
func (k kindValue) Type() string { return "bool" }

// IsBoolFlag lets --kind stand alone, as a Go flag switch would.
func (k kindValue) IsBoolFlag() bool { return true }

func (k kindValue) Set(s string) error {
	if b, err := strconv.ParseBool(s); err == nil {
		k.c.On = b
		return nil
	}
	if s == "" || strings.TrimSpace(s) == "" {
		k.c.On = true
		return nil
	}
	fmt.Fprintf(k.c.warn, "slipway: --kind=%s is deprecated: --kind is a switch now; write --cluster %s\n", s, s)
	k.c.On = true
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			k.c.legacy = append(k.c.legacy, n)
		}
	}
	return nil
}

// Names are the clusters named with --cluster (or the old --kind=NAME).
func (c *Cluster) Names() ([]string, error) {
	named := slices.Clone(c.named)
	if c.one != "" {
		named = append(named, c.one)
	}
	for _, n := range c.legacy {
		if !slices.Contains(named, n) {
			named = append(named, n)
		}
	}
	if !c.multi && len(named) > 1 {
		return nil, UsageErr("--cluster %s and --kind=%s name two clusters; name one", c.one, strings.Join(c.legacy, ","))
	}
	return named, nil
}

// Wanted reports whether the command should use Kind at all: --kind, or a
// cluster named.
func (c *Cluster) Wanted() bool {
	return c.On || c.one != "" || len(c.named) > 0 || len(c.legacy) > 0
}

// Resolve is the clusters to use: those named, else — with --kind — the
// default one (KIND_CLUSTER_NAME, the config's, the only one), else none.
func (c *Cluster) Resolve(configCluster string) ([]string, error) {
	named, err := c.Names()
	if err != nil || len(named) > 0 || !c.On {
		return named, err
	}
	n, err := kind.Resolve("", configCluster)
	if err != nil {
		return nil, UsageErr("--kind: %v", err)
	}
	return []string{n}, nil
}

// Args checks the arguments of a command that takes none (clean, prune,
// ls), where --kind used to take a value: `--kind NAME` now leaves NAME as
// an argument, which Legacy reads as the cluster it meant.
func (c *Cluster) Args(cmd *cobra.Command, args []string) error {
	if len(args) > 0 && c.On {
		return nil
	}
	return NoArgs(cmd, args)
}

// Legacy takes the arguments `--kind NAME` left (see Args) as cluster
// names, with a notice.
func (c *Cluster) Legacy(args []string) {
	for _, a := range args {
		fmt.Fprintf(c.warn, "slipway: --kind %s is deprecated: --kind is a switch now; write --cluster %s\n", a, a)
		for _, n := range strings.Split(a, ",") {
			if n = strings.TrimSpace(n); n != "" && !slices.Contains(c.legacy, n) {
				c.legacy = append(c.legacy, n)
			}
		}
	}
}

// KindOptions is what build and watch load with: nil without --kind or a
// named cluster; nodes only make sense with one.
func (c *Cluster) KindOptions(nodes []string) (*slipway.KindOptions, error) {
	if !c.Wanted() {
		if len(nodes) > 0 {
			return nil, UsageErr("--nodes needs --kind")
		}
		return nil, nil
	}
	names, err := c.Names()
	if err != nil {
		return nil, err
	}
	o := &slipway.KindOptions{Nodes: nodes}
	if len(names) == 1 {
		o.Cluster = names[0]
	}
	return o, nil
}

// Package kind puts images into the nodes of a Kind cluster: it finds the
// nodes with kind's own library, on whichever provider (docker or podman)
// actually holds them, and streams each missing image into containerd.
package kind

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// Cluster is a Kind cluster and the provider its nodes live on.
type Cluster struct {
	Name     string
	Provider string // "docker" or "podman"
	Nodes    []nodes.Node
}

// providers lists the kind providers whose CLI is installed.
func providers() map[string]*cluster.Provider {
	out := map[string]*cluster.Provider{}
	if _, err := exec.LookPath("docker"); err == nil {
		out["docker"] = cluster.NewProvider(cluster.ProviderWithDocker())
	}
	if _, err := exec.LookPath("podman"); err == nil {
		out["podman"] = cluster.NewProvider(cluster.ProviderWithPodman())
	}
	return out
}

// List returns every Kind cluster on every provider, as provider/name.
func List() map[string][]string {
	out := map[string][]string{}
	for pname, p := range providers() {
		names, err := p.List()
		if err != nil {
			continue
		}
		for _, n := range names {
			out[n] = append(out[n], pname)
		}
	}
	return out
}

// Resolve picks the cluster name: name, else $KIND_CLUSTER_NAME, else
// fallback (the config's), else the only cluster present.
func Resolve(name, fallback string) (string, error) {
	for _, n := range []string{name, os.Getenv("KIND_CLUSTER_NAME"), fallback} {
		if n != "" {
			return n, nil
		}
	}
	all := List()
	if len(all) == 1 {
		for n := range all {
			return n, nil
		}
	}
	if len(all) == 0 {
		return "", fmt.Errorf("no Kind cluster found (looked with %s); name one with --cluster", strings.Join(providerNames(), " and "))
	}
	return "", fmt.Errorf("several Kind clusters found (%s); name one with --cluster or KIND_CLUSTER_NAME", strings.Join(slices.Sorted(maps.Keys(all)), ", "))
}

// Find returns the named cluster's nodes, looking on every provider, so a
// cluster made under podman is found even when docker is installed too.
// only, if not empty, keeps just the nodes with those names.
func Find(ctx context.Context, name string, only []string) (*Cluster, error) {
	all := List()
	provs := all[name]
	if len(provs) == 0 {
		known := slices.Sorted(maps.Keys(all))
		if len(known) == 0 {
			return nil, fmt.Errorf("no Kind cluster %q: no clusters found with %s", name, strings.Join(providerNames(), " or "))
		}
		return nil, fmt.Errorf("no Kind cluster %q (found: %s)", name, strings.Join(known, ", "))
	}
	if len(provs) > 1 {
		return nil, fmt.Errorf("Kind cluster %q exists under both %s; stop one of them", name, strings.Join(provs, " and "))
	}
	ns, err := providers()[provs[0]].ListNodes(name)
	if err != nil {
		return nil, fmt.Errorf("listing nodes of Kind cluster %q under %s: %w", name, provs[0], err)
	}
	if len(only) > 0 {
		var keep []nodes.Node
		for _, n := range ns {
			if slices.Contains(only, n.String()) {
				keep = append(keep, n)
			}
		}
		for _, want := range only {
			if !slices.ContainsFunc(keep, func(n nodes.Node) bool { return n.String() == want }) {
				return nil, fmt.Errorf("Kind cluster %q has no node %q", name, want)
			}
		}
		ns = keep
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("Kind cluster %q has no nodes", name)
	}
	return &Cluster{Name: name, Provider: provs[0], Nodes: ns}, nil
}

func providerNames() []string { return slices.Sorted(maps.Keys(providers())) }

// Await waits until cluster name exists and every node can take images,
// for a run that starts building while `kind create cluster` still runs.
// A node can take images once its containerd answers and, on a real Kind
// node (one with kind's /kind/version), kubeadm has joined it to the
// cluster (/etc/kubernetes/kubelet.conf): before that, kind may still
// rewrite containerd's config and restart it under a load. The node list
// must also be the same on two looks in a row, since kind starts the nodes'
// containers one by one. It polls until ctx ends.
func Await(ctx context.Context, name string, only []string) (*Cluster, error) {
	const poll = 2 * time.Second
	last := ""
	why := fmt.Errorf("no Kind cluster %q yet", name)
	for {
		c, err := Find(ctx, name, only)
		if err != nil {
			why = err
		} else {
			why = fmt.Errorf("the nodes of Kind cluster %q are not ready to take images yet", name)
			names := make([]string, len(c.Nodes))
			for i, n := range c.Nodes {
				names[i] = n.String()
			}
			slices.Sort(names)
			key := strings.Join(names, ",")
			if key == last && nodesReady(ctx, c) {
				return c, nil
			}
			last = key
		}
		select {
		case <-ctx.Done():
			// Say what was last seen: "not there yet" reads differently from
			// "there under two providers".
			return nil, fmt.Errorf("waiting for Kind cluster %q: %w (last seen: %v)", name, context.Cause(ctx), why)
		case <-time.After(poll):
		}
	}
}

// nodesReady reports whether every node of c can take images now.
func nodesReady(ctx context.Context, c *Cluster) bool {
	const script = "ctr version >/dev/null 2>&1 && { test ! -e /kind/version || test -e /etc/kubernetes/kubelet.conf; }"
	for _, n := range c.Nodes {
		if err := n.CommandContext(ctx, "sh", "-c", script).Run(); err != nil {
			return false
		}
	}
	return true
}

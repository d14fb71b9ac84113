package watch

import (
	"cmp"
	"context"
	"strings"

	"github.com/slipway-dev/slipway/pkg/config"
	"github.com/slipway-dev/slipway/pkg/inputs"
)

// unknownDigest marks a service whose inputs package inputs cannot pin (an
// ADD from a URL, say): any change in scope counts as a change to it.
const unknownDigest = "unknown"

// sourceDigests returns each selected service's input digest as package
// inputs computes it for reuse, except that a dependency counts by name
// rather than by image ID (a changed dependency is found through its own
// digest, and its dependents follow it) and base images by reference (a
// pull is no file event). Equal digests across two cycles mean no file a
// build can see changed; the build itself then decides what to rebuild.
func sourceDigests(ctx context.Context, h *inputs.Hasher, cfg *config.Config, services, platforms []string) map[string]string {
	out := make(map[string]string, len(services))
	for _, s := range services {
		svc := cfg.Services[s]
		args := map[string]string{}
		for k, v := range svc.Args {
			args[k] = v
		}
		for _, d := range svc.DependsOn {
			args[config.ArgName(d)] = "slipway.watch/" + d
		}
		var secrets []string
		for _, sec := range svc.Secrets {
			secrets = append(secrets, sec.Identity())
		}
		d, err := h.Digest(ctx, inputs.Spec{
			Dockerfile: cfg.DockerfilePath(svc), Context: cfg.ContextDir(svc),
			Target: svc.Target, Platform: cmp.Or(strings.Join(platforms, ","), svc.Platform), Args: args,
			Contexts: cfg.ContextSources(svc), Secrets: secrets,
			Resolve: func(_ context.Context, ref string) (string, bool) { return ref, true },
		})
		if err != nil {
			d = unknownDigest
		}
		out[s] = d
	}
	return out
}

// changedServices lists the services whose digest differs between before
// and after, in the order of services; an unknown digest counts as changed
// whenever anything in scope changed.
func changedServices(services []string, before, after map[string]string) []string {
	var out []string
	for _, s := range services {
		if a := after[s]; a == unknownDigest || a != before[s] {
			out = append(out, s)
		}
	}
	return out
}

package kind

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// NodeInfo is what `slipway doctor` reports of one node: what loading
// into it will meet.
type NodeInfo struct {
	Name string `json:"name"`
	Role string `json:"role,omitempty"`
	// Containerd is `containerd --version`'s version.
	Containerd string `json:"containerd,omitempty"`
	// Snapshotter is the one the CRI unpacks images for.
	Snapshotter string `json:"snapshotter,omitempty"`
	// LayerAware reports whether loads can leave out the layers the node
	// holds: its content store can be listed where slipway looks for it.
	// Without it every load sends whole images.
	LayerAware bool `json:"layer_aware"`
	// Loadable reports whether Load can put images in the node at all.
	Loadable bool `json:"loadable"`
	// Problem is why the node cannot be loaded into, or why loading is
	// not layer-aware; "" when all is well.
	Problem string `json:"problem,omitempty"`
}

// containerdRoot is where contentRoot lives: kind nodes keep containerd's
// state there.
const containerdRoot = "/var/lib/containerd"

// Inspect asks each node of c what Load depends on, one exec per node
// plus the snapshotter look-up Load itself makes.
func Inspect(ctx context.Context, c *Cluster) []NodeInfo {
	out := make([]NodeInfo, len(c.Nodes))
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = inspectNode(ctx, n)
		}()
	}
	wg.Wait()
	return out
}

func inspectNode(ctx context.Context, n nodes.Node) NodeInfo {
	info := NodeInfo{Name: n.String()}
	if r, err := n.Role(); err == nil {
		info.Role = r
	}
	script := "containerd --version 2>/dev/null | head -1; echo ---; " +
		"ctr --namespace=k8s.io content ls -q >/dev/null 2>&1 && echo content-ok; " +
		// The store's blob folder appears with the first blob; its root is
		// where layer-aware loading looks.
		"test -d " + containerdRoot + " && echo root-ok; " +
		"ctr images import --help 2>&1 | grep -q -- --no-unpack && echo no-unpack-ok; true"
	var stdout bytes.Buffer
	if err := n.CommandContext(ctx, "sh", "-c", script).SetStdout(&stdout).Run(); err != nil {
		info.Problem = fmt.Sprintf("cannot run commands in the node: %v", runErr(err))
		return info
	}
	head, tail, _ := strings.Cut(stdout.String(), "---\n")
	// "containerd github.com/containerd/containerd 1.7.24 <commit>"
	if f := strings.Fields(head); len(f) >= 3 {
		info.Containerd = f[2]
	} else {
		info.Problem = "no containerd in the node"
		return info
	}
	snap, err := snapshotter(ctx, n)
	if err != nil {
		info.Problem = err.Error()
		return info
	}
	info.Snapshotter = snap
	var missing []string
	for _, m := range []struct{ mark, what string }{
		{"content-ok", "its content store cannot be listed with ctr"},
		{"root-ok", "containerd's root is not " + containerdRoot},
	} {
		if !strings.Contains(tail, m.mark) {
			missing = append(missing, m.what)
		}
	}
	info.LayerAware = len(missing) == 0
	// Loads unpack at import by default; only the on-first-use mode needs
	// `ctr images import --no-unpack`.
	info.Loadable = DefaultUnpack == UnpackAtImport || strings.Contains(tail, "no-unpack-ok")
	if !strings.Contains(tail, "no-unpack-ok") {
		missing = append(missing, "its ctr lacks images import --no-unpack (needed only for --unpack on-first-use)")
	}
	switch {
	case !info.Loadable:
		info.Problem = "images cannot be loaded: " + strings.Join(missing, "; ")
	case !info.LayerAware:
		info.Problem = "loads send whole images: " + strings.Join(missing, "; ")
	}
	return info
}

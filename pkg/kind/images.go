package kind

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// NodeImage is an image in a node's containerd, as the CRI reports it.
type NodeImage struct {
	ID       string
	RepoTags []string
	Labels   map[string]string
	Size     int64
}

// Images lists a node's images with their config labels, in one exec: kind
// nodes have no API but the CLIs inside them.
func Images(ctx context.Context, n nodes.Node) ([]NodeImage, error) {
	var out bytes.Buffer
	// An image removed between the listing and its inspection (a
	// concurrent clean, the kubelet's GC) is skipped, not an error; any
	// other failure of inspecti still is.
	script := `for i in $(crictl images -q); do
  if ! out=$(crictl inspecti -o json "$i"); then
    if crictl images -q | grep -qxF "$i"; then exit 1; fi
    continue
  fi
  printf '%s\n' "$out"
done`
	if err := n.CommandContext(ctx, "sh", "-c", script).SetStdout(&out).Run(); err != nil {
		return nil, fmt.Errorf("listing images on node %s: %w", n, runErr(err))
	}
	dec := json.NewDecoder(&out)
	var imgs []NodeImage
	for {
		var v struct {
			Status struct {
				ID       string   `json:"id"`
				RepoTags []string `json:"repoTags"`
				Size     string   `json:"size"`
			} `json:"status"`
			Info struct {
				ImageSpec struct {
					Config struct {
						Labels map[string]string `json:"Labels"`
					} `json:"config"`
				} `json:"imageSpec"`
			} `json:"info"`
		}
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return imgs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading images of node %s: %w", n, err)
		}
		var size int64
		fmt.Sscan(v.Status.Size, &size)
		imgs = append(imgs, NodeImage{ID: v.Status.ID, RepoTags: v.Status.RepoTags, Labels: v.Info.ImageSpec.Config.Labels, Size: size})
	}
}

// ImagesInUse returns the image names and IDs that the node's containers
// use. A container the CRI made counts only while its pod sandbox is
// Ready: a kubelet keeps the exited containers of deleted or replaced pods
// until its garbage collection, and their images are free to go (no pod
// will start them again); any other container (`ctr run`) always counts.
// It is one exec with no inspection after it, so a container removed
// meanwhile cannot make it fail; if the CRI cannot be asked, every
// container counts, which keeps more, never less.
func ImagesInUse(ctx context.Context, n nodes.Node) (map[string]bool, error) {
	var out bytes.Buffer
	// ctr failing fails the whole listing (an unknown set of containers
	// must not read as none); the CRI's answers are optional.
	script := "ctr --namespace=k8s.io containers ls || exit 1; echo " + inUseSep +
		"; { crictl pods -o json && echo " + inUseSep + " && crictl ps -a -o json; } 2>/dev/null; true"
	if err := n.CommandContext(ctx, "sh", "-c", script).SetStdout(&out).Run(); err != nil {
		return nil, fmt.Errorf("listing containers on node %s: %w", n, runErr(err))
	}
	return parseInUse(out.String()), nil
}

// inUseSep separates the listings ImagesInUse reads in one exec.
const inUseSep = "---slipway---"

// parseInUse reads `ctr containers ls`, then (when the CRI answered)
// `crictl pods -o json` and `crictl ps -a -o json`.
func parseInUse(out string) map[string]bool {
	parts := strings.SplitN(out, inUseSep+"\n", 3)
	// CRI containers and sandboxes by ID, and which sandboxes are Ready.
	var pods struct {
		Items []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"items"`
	}
	var ctrs struct {
		Containers []struct {
			ID           string `json:"id"`
			PodSandboxID string `json:"podSandboxId"`
		} `json:"containers"`
	}
	cri := len(parts) == 3 &&
		json.Unmarshal([]byte(parts[1]), &pods) == nil && json.Unmarshal([]byte(parts[2]), &ctrs) == nil
	ready := map[string]bool{}     // sandbox ID -> Ready
	sandbox := map[string]string{} // CRI container ID -> its sandbox
	if cri {
		for _, p := range pods.Items {
			ready[p.ID] = p.State == "SANDBOX_READY"
			sandbox[p.ID] = p.ID // a sandbox's own (pause) container
		}
		for _, c := range ctrs.Containers {
			sandbox[c.ID] = c.PodSandboxID
		}
	}
	used := map[string]bool{}
	for i, line := range strings.Split(parts[0], "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 2 {
			continue
		}
		if sb, ok := sandbox[f[0]]; ok && !ready[sb] {
			continue
		}
		used[f[1]] = true
	}
	return used
}

// RemoveRefs drops image names from a node. Content stays while any other
// name references it; containerd's GC collects the rest.
func RemoveRefs(ctx context.Context, n nodes.Node, refs ...string) error {
	if len(refs) == 0 {
		return nil
	}
	args := append([]string{"--namespace=k8s.io", "images", "rm", "--sync"}, refs...)
	if err := n.CommandContext(ctx, "ctr", args...).Run(); err != nil {
		return fmt.Errorf("removing %s from node %s: %w", strings.Join(refs, " "), n, runErr(err))
	}
	return nil
}

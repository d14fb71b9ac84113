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
// use. It is one listing with no inspection after it, so a container
// removed meanwhile cannot make it fail.
func ImagesInUse(ctx context.Context, n nodes.Node) (map[string]bool, error) {
	var out bytes.Buffer
	if err := n.CommandContext(ctx, "ctr", "--namespace=k8s.io", "containers", "ls").SetStdout(&out).Run(); err != nil {
		return nil, fmt.Errorf("listing containers on node %s: %w", n, runErr(err))
	}
	used := map[string]bool{}
	for i, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 2 {
			continue
		}
		used[f[1]] = true
	}
	return used, nil
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

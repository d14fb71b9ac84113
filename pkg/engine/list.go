package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Images returns every image carrying label key (any value), inspected.
func (e *Engine) Images(ctx context.Context, labelKey string) ([]*Image, error) {
	out, err := e.output(ctx, "image", "ls", "-q", "--no-trunc", "--filter", "label="+labelKey)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var ids []string
	for _, id := range strings.Fields(string(out)) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	raw, err := e.output(ctx, append([]string{"image", "inspect"}, ids...)...)
	if err != nil {
		return nil, err
	}
	var list []inspectJSON
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("reading image list from %s: %w", e.Name, err)
	}
	imgs := make([]*Image, 0, len(list))
	for _, r := range list {
		imgs = append(imgs, r.image())
	}
	return imgs, nil
}

func (r inspectJSON) image() *Image {
	img := &Image{ID: normID(r.ID), RepoTags: r.RepoTags, Size: r.Size, Labels: r.Config.Labels, Layers: r.RootFS.Layers}
	if img.Labels == nil {
		img.Labels = r.Labels
	}
	img.Created, _ = time.Parse(time.RFC3339Nano, r.Created)
	return img
}

// ImagesInUse returns the IDs of images that containers (running or not)
// were created from: removing those would break someone's container.
func (e *Engine) ImagesInUse(ctx context.Context) (map[string]bool, error) {
	out, err := e.output(ctx, "ps", "-aq", "--no-trunc")
	if err != nil {
		return nil, err
	}
	ids := strings.Fields(string(out))
	used := map[string]bool{}
	if len(ids) == 0 {
		return used, nil
	}
	raw, err := e.output(ctx, append([]string{"container", "inspect", "--format", "{{.Image}}"}, ids...)...)
	if err != nil {
		return nil, err
	}
	for _, id := range strings.Fields(string(raw)) {
		used[normID(id)] = true
	}
	return used, nil
}

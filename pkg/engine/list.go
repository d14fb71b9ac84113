package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Images returns every image whose labels match filter: a value of ""
// matches any value of that key. Through the Docker API one request
// answers (names, labels, size and creation time, to the second); Layers
// are left empty there — Inspect has them.
func (e *Engine) Images(ctx context.Context, filter map[string]string) ([]*Image, error) {
	if e.API != nil {
		return e.API.apiImages(ctx, filter)
	}
	args := []string{"image", "ls", "-q", "--no-trunc"}
	for _, k := range slices.Sorted(maps.Keys(filter)) {
		if v := filter[k]; v != "" {
			args = append(args, "--filter", "label="+k+"="+v)
		} else {
			args = append(args, "--filter", "label="+k)
		}
	}
	out, err := e.output(ctx, args...)
	if err != nil {
		return nil, err
	}
	ids := slices.Compact(slices.Sorted(slices.Values(strings.Fields(string(out)))))
	if len(ids) == 0 {
		return nil, nil
	}
	found, err := e.InspectSome(ctx, ids...)
	if err != nil {
		return nil, err
	}
	return slices.Collect(maps.Values(found)), nil
}

// InspectSome inspects refs (names or IDs) in one call and returns those
// the engine has, keyed by the ref asked for; missing ones are left out.
func (e *Engine) InspectSome(ctx context.Context, refs ...string) (map[string]*Image, error) {
	if e.API != nil {
		return e.API.apiInspectSome(ctx, refs)
	}
	out, err := e.output(ctx, append([]string{"image", "inspect"}, refs...)...)
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	var raw []inspectJSON
	if len(bytes.TrimSpace(out)) > 0 {
		if err := json.Unmarshal(out, &raw); err != nil {
			return nil, fmt.Errorf("reading images from %s: %w", e.Name, err)
		}
	}
	if err != nil && len(raw) == 0 && len(refs) > 1 {
		// An engine that prints nothing when one ref is missing (or was
		// removed since it was listed): ask for each, keep those found.
		found := map[string]*Image{}
		for _, ref := range refs {
			one, err := e.InspectSome(ctx, ref)
			if err != nil {
				return nil, err
			}
			if img := one[ref]; img != nil {
				found[ref] = img
			}
		}
		return found, nil
	}
	found := map[string]*Image{}
	for _, r := range raw {
		img := r.image()
		for _, ref := range refs {
			if slices.Contains(img.RepoTags, ref) || normID(ref) == img.ID {
				found[ref] = img
			}
		}
	}
	return found, nil
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
// were created from: removing those would break someone's container. A
// container removed between the listing and its inspection is left out:
// it uses nothing any more.
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
	args := []string{"container", "inspect", "--format", "{{.Image}}"}
	raw, err := e.output(ctx, append(args, ids...)...)
	if err != nil && isGone(err) {
		// One call for all failed because some vanished; ask for each, so
		// the survivors are still counted and the vanished dropped.
		raw = nil
		for _, id := range ids {
			one, err := e.output(ctx, append(args, id)...)
			if err != nil && !isGone(err) {
				return nil, fmt.Errorf("listing images in use: %w", err)
			}
			raw = append(raw, one...)
			raw = append(raw, '\n')
		}
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing images in use: %w", err)
	}
	for _, id := range strings.Fields(string(raw)) {
		used[normID(id)] = true
	}
	return used, nil
}

// isGone reports an engine error about an object (container or image) that
// does not exist, as Docker and Podman word it.
func isGone(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "no such container") || strings.Contains(s, "no such object") ||
		strings.Contains(s, "no container with name or id") || isNotFound(err)
}

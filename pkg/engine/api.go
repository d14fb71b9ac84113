package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// The calls below answer through the Docker API when Engine.API is set
// (Detect sets it for a Docker daemon on a socket slipway can reach):
// one HTTP request on a kept-alive connection costs well under a
// millisecond, a CLI process 20–50 ms, which at a hundred services is
// the whole of a warm run.

// ping asks the daemon whether it is there.
func (ep Endpoint) ping(ctx context.Context) error {
	_, err := ep.get(ctx, "/_ping")
	return err
}

// apiError is a daemon's answer that is not a success.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("docker API: %d: %s", e.Status, e.Message) }

func (ep Endpoint) do(ctx context.Context, method, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://docker"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := ep.HTTP().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, readAPIError(resp)
	}
	return io.ReadAll(resp.Body)
}

// readAPIError is a failed answer's error: the daemon's JSON message, or
// the body as it came.
func readAPIError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var m struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &m)
	if m.Message == "" {
		m.Message = strings.TrimSpace(string(body))
	}
	return &apiError{Status: resp.StatusCode, Message: m.Message}
}

func (ep Endpoint) get(ctx context.Context, path string) ([]byte, error) {
	return ep.do(ctx, http.MethodGet, path)
}

// apiSave is GET /images/get: the archive `docker save` writes, streamed
// to w. It saves a CLI process per load (and a load of one changed layer
// is short enough for that to show).
func (ep Endpoint) apiSave(ctx context.Context, w io.Writer, refs []string) error {
	fail := func(err error) error { return fmt.Errorf("docker save %s: %w", strings.Join(refs, " "), err) }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/images/get?"+url.Values{"names": refs}.Encode(), nil)
	if err != nil {
		return fail(err)
	}
	resp, err := ep.HTTP().Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fail(readAPIError(resp))
	}
	out := &firstErrWriter{w: w}
	if _, err := io.Copy(out, resp.Body); err != nil {
		if out.err != nil {
			// The reader went away (a full disk, a dead node): that is
			// the cause, not the connection it left behind.
			return fail(fmt.Errorf("writing the archive: %w", out.err))
		}
		if ctx.Err() != nil {
			return fail(context.Cause(ctx))
		}
		return fail(fmt.Errorf("reading the archive: %w", err))
	}
	return nil
}

// apiInspect is GET /images/{ref}/json; a missing image wraps ErrNotFound.
func (ep Endpoint) apiInspect(ctx context.Context, ref string) (*Image, error) {
	body, err := ep.get(ctx, "/images/"+pathEscapeRef(ref)+"/json")
	if err != nil {
		if ae, ok := err.(*apiError); ok && ae.Status == http.StatusNotFound {
			return nil, fmt.Errorf("%s: %w", ref, ErrNotFound)
		}
		return nil, fmt.Errorf("inspecting %s: %w", ref, err)
	}
	var raw inspectJSON
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("inspecting %s: unreadable answer: %w", ref, err)
	}
	return raw.image(), nil
}

// pathEscapeRef keeps a reference's slashes (the daemon's router takes
// /images/{name:.*}/json) and escapes the rest.
func pathEscapeRef(ref string) string {
	parts := strings.Split(ref, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// apiInspectSome inspects refs concurrently and keeps those found.
func (ep Endpoint) apiInspectSome(ctx context.Context, refs []string) (map[string]*Image, error) {
	imgs := make([]*Image, len(refs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, ref := range refs {
		g.Go(func() error {
			img, err := ep.apiInspect(gctx, ref)
			if err != nil && !isNotFoundErr(err) {
				return err
			}
			imgs[i] = img
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	found := map[string]*Image{}
	for i, img := range imgs {
		if img != nil {
			found[refs[i]] = img
		}
	}
	return found, nil
}

func isNotFoundErr(err error) bool {
	return err != nil && strings.Contains(err.Error(), ErrNotFound.Error())
}

// apiImages is GET /images/json with label filters: every matching image
// in one request, without an inspect per image (which at a hundred
// services was a hundred round trips on the warm path).
func (ep Endpoint) apiImages(ctx context.Context, filter map[string]string) ([]*Image, error) {
	list, err := ep.apiImageList(ctx, filter)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := make([]*Image, 0, len(list))
	for _, l := range list {
		id := normID(l.ID)
		if seen[id] {
			continue
		}
		seen[id] = true
		img := &Image{ID: id, Labels: l.Labels, Size: l.Size, Created: time.Unix(l.Created, 0)}
		for _, t := range l.RepoTags {
			if t != "<none>:<none>" {
				img.RepoTags = append(img.RepoTags, t)
			}
		}
		out = append(out, img)
	}
	return out, nil
}

// imageSummary is one entry of GET /images/json.
type imageSummary struct {
	ID       string            `json:"Id"`
	RepoTags []string          `json:"RepoTags"`
	Labels   map[string]string `json:"Labels"`
	Created  int64             `json:"Created"`
	Size     int64             `json:"Size"`
}

func (ep Endpoint) apiImageList(ctx context.Context, filter map[string]string) ([]imageSummary, error) {
	var labels []string
	for _, k := range slices.Sorted(maps.Keys(filter)) {
		if v := filter[k]; v != "" {
			labels = append(labels, k+"="+v)
		} else {
			labels = append(labels, k)
		}
	}
	q := url.Values{}
	if len(labels) > 0 {
		f, _ := json.Marshal(map[string][]string{"label": labels})
		q.Set("filters", string(f))
	}
	body, err := ep.get(ctx, "/images/json?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	var list []imageSummary
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("listing images: unreadable answer: %w", err)
	}
	return list, nil
}

// apiTag is POST /images/{src}/tag.
func (ep Endpoint) apiTag(ctx context.Context, src, dst string) error {
	repo, tag := splitRef(dst)
	q := url.Values{"repo": {repo}}
	if tag != "" {
		q.Set("tag", tag)
	}
	if _, err := ep.do(ctx, http.MethodPost, "/images/"+pathEscapeRef(src)+"/tag?"+q.Encode()); err != nil {
		return fmt.Errorf("docker tag %s %s: %w", src, dst, err)
	}
	return nil
}

// splitRef splits name:tag at the tag's colon (not a registry port's).
func splitRef(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

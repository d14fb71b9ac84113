package kind

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/pelletier/go-toml"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// Action is what a load did on one node.
type Action string

const (
	Present  Action = "present"  // the node had the image under this name
	Retagged Action = "retagged" // the node had the content under another name
	Loaded   Action = "loaded"   // the image was streamed in
)

// Image is one image to put on the nodes.
type Image struct {
	Ref string // repository:tag
	ID  string // the engine's image ID (config digest), as containerd reports it too
	// Layers are its diff IDs; with them, layers the nodes hold are not sent.
	Layers []string
}

// Saver streams an image archive of ref: the engine's `save`.
type Saver interface {
	Save(ctx context.Context, w io.Writer, refs ...string) error
}

// NodeError is a load that failed on one node.
type NodeError struct {
	Node, Image string
	Err         error
}

func (e *NodeError) Error() string {
	return fmt.Sprintf("loading %s into node %s: %v", e.Image, e.Node, e.Err)
}
func (e *NodeError) Unwrap() error { return e.Err }

// Load puts img on every node of c; see LoadAll.
func Load(ctx context.Context, c *Cluster, s Saver, img Image) (map[string]Action, error) {
	out, err := LoadAll(ctx, c, s, []Image{img})
	return out[img.Ref], err
}

// LoadAll puts images on every node of c, sending only what each node
// lacks: nothing where the node has an image under its name, a re-tag where
// it has the content under another name, and for the rest one save of all
// the images a set of nodes needs (shared layers travel once), streamed to
// those nodes at once with no temp file. It returns ref -> node -> action.
func LoadAll(ctx context.Context, c *Cluster, s Saver, imgs []Image) (map[string]map[string]Action, error) {
	out := map[string]map[string]Action{}
	for _, img := range imgs {
		out[img.Ref] = map[string]Action{}
	}
	var mu sync.Mutex
	needs := map[string][]nodes.Node{} // image ref -> nodes lacking it
	err := forEach(c.Nodes, func(n nodes.Node) error {
		have, err := nodeImages(ctx, n)
		if err != nil {
			return &NodeError{Node: n.String(), Image: refsOf(imgs), Err: err}
		}
		var retag [][2]string
		for _, img := range imgs {
			a := Action("")
			switch tags := have[img.ID]; {
			case slices.Contains(tags, img.Ref):
				a = Present
			case len(tags) > 0:
				retag = append(retag, [2]string{tags[0], img.Ref})
				a = Retagged
			}
			mu.Lock()
			if a == "" {
				needs[img.Ref] = append(needs[img.Ref], n)
			} else {
				out[img.Ref][n.String()] = a
			}
			mu.Unlock()
		}
		if err := retagAll(ctx, n, retag); err != nil {
			return &NodeError{Node: n.String(), Image: refsOf(imgs), Err: err}
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	// One stream per distinct set of nodes: usually every image needs every
	// node (cold) or one image needs them all (one changed service).
	groups := map[string][]Image{}
	groupNodes := map[string][]nodes.Node{}
	for _, img := range imgs {
		ns := needs[img.Ref]
		if len(ns) == 0 {
			continue
		}
		slices.SortFunc(ns, func(a, b nodes.Node) int { return strings.Compare(a.String(), b.String()) })
		key := nodeNames(ns)
		groups[key] = append(groups[key], img)
		groupNodes[key] = ns
	}
	var errs []error
	for key, group := range groups {
		ns := groupNodes[key]
		if err := loadGroup(ctx, c, s, ns, group); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, img := range group {
			for _, n := range ns {
				out[img.Ref][n.String()] = Loaded
			}
		}
	}
	return out, errors.Join(errs...)
}

func loadGroup(ctx context.Context, c *Cluster, s Saver, ns []nodes.Node, group []Image) error {
	unlock, err := lockNodes(ctx, c.Provider, ns)
	if err != nil {
		return err
	}
	defer unlock()
	refs := make([]string, len(group))
	var layers []string
	for i, img := range group {
		refs[i] = img.Ref
		layers = append(layers, img.Layers...)
	}
	save := func(ctx context.Context, w io.Writer) error { return s.Save(ctx, w, refs...) }
	present, err := presentEverywhere(ctx, ns, layers)
	if err != nil || len(present) == 0 {
		return stream(ctx, ns, save, group)
	}
	filtered := func(ctx context.Context, w io.Writer) error {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(save(ctx, pw)) }()
		err := filterArchive(pr, w, present)
		pr.CloseWithError(err)
		return err
	}
	err = stream(ctx, ns, filtered, group)
	if errors.Is(err, errGuess) {
		return stream(ctx, ns, save, group)
	}
	return err
}

// presentEverywhere is the subset of layers that every node holds.
func presentEverywhere(ctx context.Context, ns []nodes.Node, layers []string) (map[string]int64, error) {
	if len(layers) == 0 {
		return nil, nil
	}
	var all map[string]int64
	for _, n := range ns {
		have, err := presentLayers(ctx, n, layers)
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = have
			continue
		}
		for d, size := range all {
			if have[d] != size {
				delete(all, d)
			}
		}
	}
	return all, nil
}

// nodeImages maps each image ID on the node to its names, in one exec.
func nodeImages(ctx context.Context, n nodes.Node) (map[string][]string, error) {
	var stdout, stderr bytes.Buffer
	if err := n.CommandContext(ctx, "crictl", "images", "-o", "json").SetStdout(&stdout).SetStderr(&stderr).Run(); err != nil {
		return nil, fmt.Errorf("asking containerd for its images: %w %s", runErr(err), strings.TrimSpace(stderr.String()))
	}
	var v struct {
		Images []struct {
			ID       string   `json:"id"`
			RepoTags []string `json:"repoTags"`
		} `json:"images"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &v); err != nil {
		return nil, fmt.Errorf("reading crictl images: %w", err)
	}
	m := map[string][]string{}
	for _, im := range v.Images {
		m[im.ID] = append(m[im.ID], im.RepoTags...)
	}
	return m, nil
}

// retagAll gives existing content new names, in one exec.
func retagAll(ctx context.Context, n nodes.Node, pairs [][2]string) error {
	if len(pairs) == 0 {
		return nil
	}
	var script strings.Builder
	script.WriteString("set -e\n")
	for _, p := range pairs {
		fmt.Fprintf(&script, "ctr --namespace=k8s.io images tag --force %s %s >/dev/null\n", shellQuote(p[0]), shellQuote(p[1]))
	}
	var stderr bytes.Buffer
	if err := n.CommandContext(ctx, "sh", "-c", script.String()).SetStderr(&stderr).Run(); err != nil {
		return fmt.Errorf("re-tagging: %w %s", runErr(err), strings.TrimSpace(stderr.String()))
	}
	return nil
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func nodeNames(ns []nodes.Node) string {
	names := make([]string, len(ns))
	for i, n := range ns {
		names[i] = n.String()
	}
	return strings.Join(names, ",")
}

func refsOf(imgs []Image) string {
	refs := make([]string, len(imgs))
	for i, img := range imgs {
		refs[i] = img.Ref
	}
	return strings.Join(refs, ", ")
}

// verify checks that every image arrived under its name with its ID.
func verify(ctx context.Context, n nodes.Node, imgs []Image) error {
	have, err := nodeImages(ctx, n)
	if err != nil {
		return err
	}
	for _, img := range imgs {
		if !slices.Contains(have[img.ID], img.Ref) {
			return fmt.Errorf("%s missing or different after import", img.Ref)
		}
	}
	return nil
}

// ImportArchive streams the archive that write produces into every node
// of c at once.
func ImportArchive(ctx context.Context, c *Cluster, write func(context.Context, io.Writer) error) error {
	unlock, err := lockNodes(ctx, c.Provider, c.Nodes)
	if err != nil {
		return err
	}
	defer unlock()
	return stream(ctx, c.Nodes, write, nil)
}

// stream runs one archive writer into every node's `ctr images import` at
// once. A non-empty img is checked on each node afterwards, and its record
// removed from a node where the import failed.
func stream(ctx context.Context, ns []nodes.Node, write func(context.Context, io.Writer) error, imgs []Image) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pipes := make([]*io.PipeWriter, len(ns))
	results := make([]chan error, len(ns))
	for i, n := range ns {
		pr, pw := io.Pipe()
		pipes[i], results[i] = pw, make(chan error, 1)
		go func(n nodes.Node, pr *io.PipeReader, res chan<- error) {
			err := importArchive(ctx, n, pr)
			pr.CloseWithError(errImportEnded) // unblock the fan-out if import stopped reading
			res <- err
		}(n, pr, results[i])
	}
	fan := &fanout{ws: make([]io.Writer, len(pipes))}
	for i, p := range pipes {
		fan.ws[i] = p
	}
	saveErr := write(ctx, fan)
	for _, p := range pipes {
		p.CloseWithError(saveErr)
	}
	var errs []error
	for i, n := range ns {
		err := <-results[i]
		if err == nil && saveErr == nil && len(imgs) > 0 {
			err = verify(ctx, n, imgs)
		}
		if err == nil && saveErr != nil {
			err = fmt.Errorf("saving from the engine: %w", saveErr)
		}
		if err != nil {
			if len(imgs) > 0 {
				// Leave no half-written image record behind.
				args := []string{"--namespace=k8s.io", "images", "rm"}
				for _, img := range imgs {
					args = append(args, img.Ref)
				}
				_ = n.CommandContext(context.WithoutCancel(ctx), "ctr", args...).Run()
			}
			errs = append(errs, &NodeError{Node: n.String(), Image: orArchive(refsOf(imgs)), Err: err})
		}
	}
	return errors.Join(errs...)
}

var errImportEnded = errors.New("import ended")

// importArchive ingests an archive into the node's containerd without
// unpacking it: the CRI (and `ctr run`) unpacks an image the first time a
// container starts from it, so only the nodes that run an image pay for
// unpacking it — on a cold load that halves the work, which is bound by
// containerd on each node. The snapshotter is still named so the unpack,
// when it comes, targets the one the CRI uses.
func importArchive(ctx context.Context, n nodes.Node, r io.Reader) error {
	snap, err := snapshotter(ctx, n)
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	err = n.CommandContext(ctx, "ctr", "--namespace=k8s.io", "images", "import", "--no-unpack", "--snapshotter="+snap, "-").
		SetStdin(r).SetStderr(&stderr).Run()
	if err != nil {
		return fmt.Errorf("ctr images import: %w: %s", runErr(err), strings.TrimSpace(stderr.String()))
	}
	return nil
}

// snapshotter reads the node's containerd config, as kind does, so the
// image is unpacked for the snapshotter the CRI uses.
func snapshotter(ctx context.Context, n nodes.Node) (string, error) {
	var out bytes.Buffer
	if err := n.CommandContext(ctx, "containerd", "config", "dump").SetStdout(&out).Run(); err != nil {
		return "", fmt.Errorf("reading containerd config: %w", runErr(err))
	}
	t, err := toml.LoadBytes(out.Bytes())
	if err != nil {
		return "", fmt.Errorf("reading containerd config: %w", err)
	}
	for _, path := range [][]string{
		{"plugins", "io.containerd.grpc.v1.cri", "containerd", "snapshotter"},
		{"plugins", "io.containerd.cri.v1.images", "snapshotter"},
	} {
		if s, ok := t.GetPath(path).(string); ok && s != "" {
			return s, nil
		}
	}
	return "overlayfs", nil
}

// fanout writes to every writer; one that fails is dropped so the others
// still get the whole stream (its own import reports the failure).
type fanout struct {
	ws []io.Writer
}

func (f *fanout) Write(p []byte) (int, error) {
	live := 0
	for i, w := range f.ws {
		if w == nil {
			continue
		}
		if _, err := w.Write(p); err != nil {
			f.ws[i] = nil
			continue
		}
		live++
	}
	if live == 0 {
		return 0, errImportEnded
	}
	return len(p), nil
}

func forEach(ns []nodes.Node, f func(nodes.Node) error) error {
	errs := make([]error, len(ns))
	var wg sync.WaitGroup
	for i, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(n)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func orArchive(ref string) string {
	if ref == "" {
		return "archive"
	}
	return ref
}

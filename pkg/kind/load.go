package kind

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// Load puts img on every node of c: nothing for a node that has it, a
// re-tag for one that has the content under another name, and for the rest
// one save streamed to all of them at once, with no temp file.
func Load(ctx context.Context, c *Cluster, s Saver, img Image) (map[string]Action, error) {
	out := make(map[string]Action, len(c.Nodes))
	var mu sync.Mutex
	var need []nodes.Node
	errs := forEach(c.Nodes, func(n nodes.Node) error {
		a, err := plan(ctx, n, img)
		if err != nil {
			return &NodeError{Node: n.String(), Image: img.Ref, Err: err}
		}
		mu.Lock()
		defer mu.Unlock()
		if a == "" {
			need = append(need, n)
		} else {
			out[n.String()] = a
		}
		return nil
	})
	if errs != nil {
		return out, errs
	}
	if len(need) == 0 {
		return out, nil
	}
	unlock, err := lockNodes(ctx, c.Provider, need)
	if err != nil {
		return out, err
	}
	err = stream(ctx, need, func(ctx context.Context, w io.Writer) error { return s.Save(ctx, w, img.Ref) }, img)
	unlock()
	if err != nil {
		return out, err
	}
	for _, n := range need {
		out[n.String()] = Loaded
	}
	return out, nil
}

// plan says what node n needs for img: "" means a full load.
func plan(ctx context.Context, n nodes.Node, img Image) (Action, error) {
	st, err := inspect(ctx, n, img.Ref)
	if err != nil {
		return "", err
	}
	if st != nil && st.ID == img.ID {
		return Present, nil
	}
	byID, err := inspect(ctx, n, img.ID)
	if err != nil {
		return "", err
	}
	if byID == nil || len(byID.RepoTags) == 0 {
		return "", nil
	}
	if err := n.CommandContext(ctx, "ctr", "--namespace=k8s.io", "images", "tag", "--force", byID.RepoTags[0], img.Ref).Run(); err != nil {
		return "", fmt.Errorf("re-tagging %s as %s: %w", byID.RepoTags[0], img.Ref, runErr(err))
	}
	return Retagged, nil
}

type imageStatus struct {
	ID       string   `json:"id"`
	RepoTags []string `json:"repoTags"`
}

// inspect asks the node's CRI about ref; nil means the node lacks it.
func inspect(ctx context.Context, n nodes.Node, ref string) (*imageStatus, error) {
	var stdout, stderr bytes.Buffer
	err := n.CommandContext(ctx, "crictl", "inspecti", "-o", "json", ref).SetStdout(&stdout).SetStderr(&stderr).Run()
	if err != nil {
		msg := stderr.String() + string(runOutput(err))
		if strings.Contains(msg, "no such image") || strings.Contains(msg, "not found") {
			return nil, nil
		}
		return nil, fmt.Errorf("asking containerd for %s: %w", ref, runErr(err))
	}
	var v struct {
		Status imageStatus `json:"status"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &v); err != nil {
		return nil, fmt.Errorf("reading crictl inspecti %s: %w", ref, err)
	}
	return &v.Status, nil
}

// ImportArchive streams the archive that write produces into every node
// of c at once.
func ImportArchive(ctx context.Context, c *Cluster, write func(context.Context, io.Writer) error) error {
	unlock, err := lockNodes(ctx, c.Provider, c.Nodes)
	if err != nil {
		return err
	}
	defer unlock()
	return stream(ctx, c.Nodes, write, Image{})
}

// stream runs one archive writer into every node's `ctr images import` at
// once. A non-empty img is checked on each node afterwards, and its record
// removed from a node where the import failed.
func stream(ctx context.Context, ns []nodes.Node, write func(context.Context, io.Writer) error, img Image) error {
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
		if err == nil && saveErr == nil && img.Ref != "" {
			if st, ierr := inspect(ctx, n, img.Ref); ierr != nil || st == nil || st.ID != img.ID {
				err = fmt.Errorf("image missing or different after import (%v)", ierr)
			}
		}
		if err == nil && saveErr != nil {
			err = fmt.Errorf("saving from the engine: %w", saveErr)
		}
		if err != nil {
			if img.Ref != "" {
				// Leave no half-written image record behind.
				_ = n.CommandContext(context.WithoutCancel(ctx), "ctr", "--namespace=k8s.io", "images", "rm", img.Ref).Run()
			}
			errs = append(errs, &NodeError{Node: n.String(), Image: orArchive(img.Ref), Err: err})
		}
	}
	return errors.Join(errs...)
}

var errImportEnded = errors.New("import ended")

func importArchive(ctx context.Context, n nodes.Node, r io.Reader) error {
	snap, err := snapshotter(ctx, n)
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	err = n.CommandContext(ctx, "ctr", "--namespace=k8s.io", "images", "import", "--snapshotter="+snap, "-").
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

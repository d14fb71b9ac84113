package kind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	kindexec "sigs.k8s.io/kind/pkg/exec"
)

// fakeNode is a Kind node whose containerd is a map: ctr changes names at
// once, the CRI (crictl) sees them only after lag more listings, as a busy
// containerd publishes them late.
type fakeNode struct {
	name string
	mu   sync.Mutex
	ctr  map[string]string // ref -> image ID, as ctr has it
	cri  map[string]string // what crictl lists
	lag  int               // listings until cri catches up with ctr; <0: never
	seen int
	// onImport handles `ctr images import`, reading the stream.
	onImport func(ctx context.Context, r io.Reader, n *fakeNode) error
	log      []string
}

func newFakeNode(name string, refs map[string]string) *fakeNode {
	n := &fakeNode{name: name, ctr: map[string]string{}, cri: map[string]string{}}
	for r, id := range refs {
		n.ctr[r], n.cri[r] = id, id
	}
	return n
}

func (n *fakeNode) String() string              { return n.name }
func (n *fakeNode) Role() (string, error)       { return "worker", nil }
func (n *fakeNode) IP() (string, string, error) { return "", "", nil }
func (n *fakeNode) SerialLogs(io.Writer) error  { return nil }
func (n *fakeNode) Command(c string, a ...string) kindexec.Cmd {
	return n.CommandContext(context.Background(), c, a...)
}
func (n *fakeNode) CommandContext(ctx context.Context, c string, a ...string) kindexec.Cmd {
	return &fakeCmd{ctx: ctx, n: n, argv: append([]string{c}, a...)}
}

// set gives ref the ID in ctr (the CRI follows after lag listings).
func (n *fakeNode) set(ref, id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ctr[ref] = id
	n.seen = 0
}

func (n *fakeNode) refs() map[string]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string]string{}
	for r, id := range n.ctr {
		out[r] = id
	}
	return out
}

type fakeCmd struct {
	ctx            context.Context
	n              *fakeNode
	argv           []string
	stdin          io.Reader
	stdout, stderr io.Writer
}

func (c *fakeCmd) SetEnv(...string) kindexec.Cmd      { return c }
func (c *fakeCmd) SetStdin(r io.Reader) kindexec.Cmd  { c.stdin = r; return c }
func (c *fakeCmd) SetStdout(w io.Writer) kindexec.Cmd { c.stdout = w; return c }
func (c *fakeCmd) SetStderr(w io.Writer) kindexec.Cmd { c.stderr = w; return c }

var tagLine = regexp.MustCompile(`images tag --force '([^']*)' '([^']*)'`)

// scriptPart is one command of a script (look.go): its text and whether it
// may fail.
var scriptPart = regexp.MustCompile(`\{ (.*?); \} \|\| (exit \$\?|true); echo ` + partSep)

func (c *fakeCmd) Run() error {
	n := c.n
	line := strings.Join(c.argv, " ")
	if len(c.argv) == 3 && c.argv[0] == "sh" && strings.Contains(c.argv[2], partSep) {
		// A script of several commands: each runs as its own command.
		for _, m := range scriptPart.FindAllStringSubmatch(c.argv[2], -1) {
			sub := &fakeCmd{ctx: c.ctx, n: n, argv: []string{strings.ReplaceAll(m[1], "'", "")}, stdin: c.stdin, stdout: c.stdout, stderr: c.stderr}
			if sub.stdout == nil {
				sub.stdout = io.Discard
			}
			if err := sub.Run(); err != nil && m[2] != "true" {
				return err
			}
			fmt.Fprintln(sub.stdout, partSep)
		}
		return nil
	}
	line = strings.TrimSuffix(line, " >/dev/null")
	n.mu.Lock()
	n.log = append(n.log, line)
	n.mu.Unlock()
	switch {
	case line == "crictl images -o json":
		n.mu.Lock()
		n.seen++
		if n.lag >= 0 && n.seen > n.lag {
			n.cri = map[string]string{}
			for r, id := range n.ctr {
				n.cri[r] = id
			}
		}
		byID := map[string][]string{}
		for r, id := range n.cri {
			byID[id] = append(byID[id], r)
		}
		n.mu.Unlock()
		var v struct {
			Images []map[string]any `json:"images"`
		}
		for id, tags := range byID {
			slices.Sort(tags)
			v.Images = append(v.Images, map[string]any{"id": id, "repoTags": tags})
		}
		return json.NewEncoder(c.stdout).Encode(v)
	case strings.HasPrefix(line, "sh -c set -e"):
		for _, m := range tagLine.FindAllStringSubmatch(line, -1) {
			id, ok := n.refs()[m[1]]
			if !ok {
				return fmt.Errorf("no image %s", m[1])
			}
			n.set(m[2], id)
		}
		return nil
	case line == "containerd config dump":
		return nil
	case strings.HasPrefix(line, "ctr --namespace=k8s.io images import"):
		return n.onImport(c.ctx, c.stdin, n)
	case strings.HasPrefix(line, "ctr --namespace=k8s.io images rm"):
		n.mu.Lock()
		for _, r := range c.argv[4:] {
			if strings.HasPrefix(r, "--") {
				continue
			}
			delete(n.ctr, r)
			delete(n.cri, r)
		}
		n.mu.Unlock()
		return nil
	}
	return fmt.Errorf("fake node: unexpected command %q", line)
}

// importing reads the whole stream, then names each image.
func importing(imgs ...Image) func(context.Context, io.Reader, *fakeNode) error {
	return func(ctx context.Context, r io.Reader, n *fakeNode) error {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
		for _, img := range imgs {
			n.set(img.Ref, img.ID)
		}
		return nil
	}
}

// saver writes size bytes in 32 KiB pieces.
type saver struct{ size int }

func (s saver) Save(ctx context.Context, w io.Writer, refs ...string) error {
	buf := make([]byte, 32<<10)
	for left := s.size; left > 0; left -= len(buf) {
		if _, err := w.Write(buf[:min(left, len(buf))]); err != nil {
			return err
		}
	}
	return nil
}

func fakeCluster(t *testing.T, ns ...*fakeNode) *Cluster {
	t.Setenv("SLIPWAY_NODE_LOCK_DIR", t.TempDir()+"/locks")
	c := &Cluster{Name: "fake", Provider: "docker"}
	for _, n := range ns {
		c.Nodes = append(c.Nodes, nodes.Node(n))
	}
	return c
}

func fastVerify(t *testing.T) {
	old := VerifyDelays
	VerifyDelays = []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}
	t.Cleanup(func() { VerifyDelays = old })
}

// A re-tag or a present image is reported only once the node's own list
// shows the name with the ID: the CRI may publish it late, and then the
// load waits for it; if it never does, that node's load fails.
func TestEveryActionIsVerified(t *testing.T) {
	fastVerify(t)
	img := Image{Ref: "app:new", ID: "sha256:aaa"}
	present := Image{Ref: "app:old", ID: "sha256:aaa"}

	slow := newFakeNode("slow", map[string]string{"app:old": "sha256:aaa"})
	slow.lag = 2 // the new name appears two listings later
	out, err := LoadAll(context.Background(), fakeCluster(t, slow), saver{}, []Image{img, present})
	if err != nil {
		t.Fatalf("a late name failed the load: %v", err)
	}
	if out[img.Ref]["slow"] != Retagged || out[present.Ref]["slow"] != Present {
		t.Errorf("actions %v", out)
	}

	never := newFakeNode("never", map[string]string{"app:old": "sha256:aaa"})
	never.lag = -1
	out, err = LoadAll(context.Background(), fakeCluster(t, never), saver{}, []Image{img})
	if err == nil || !strings.Contains(err.Error(), "app:new") {
		t.Fatalf("a re-tag the node never lists was not an error: %v %v", out, err)
	}
	var ne *NodeError
	if !errors.As(err, &ne) || ne.Node != "never" {
		t.Errorf("error does not name the node: %v", err)
	}
	if a, ok := out[img.Ref]["never"]; ok {
		t.Errorf("reported %q for an unverified re-tag", a)
	}
}

// A failed import leaves a fixed tag the node held for an older image
// alone, and removes only a name it brought for an image of this load.
func TestFailedImportKeepsTheOldImagesTag(t *testing.T) {
	fastVerify(t)
	dev := Image{Ref: "app:dev", ID: "sha256:new"}
	fresh := Image{Ref: "other:1", ID: "sha256:fresh"}
	n := newFakeNode("n", map[string]string{"app:dev": "sha256:old", "keep:1": "sha256:k"})
	n.onImport = func(ctx context.Context, r io.Reader, n *fakeNode) error {
		io.Copy(io.Discard, r)
		n.set(fresh.Ref, fresh.ID) // one image landed, then the import broke
		return errors.New("unexpected EOF")
	}
	_, err := LoadAll(context.Background(), fakeCluster(t, n), saver{size: 100}, []Image{dev, fresh})
	if err == nil {
		t.Fatal("a failed import was not reported")
	}
	got := n.refs()
	if got["app:dev"] != "sha256:old" {
		t.Errorf("app:dev now %q, want it to keep naming the old image", got["app:dev"])
	}
	if _, ok := got["other:1"]; ok {
		t.Error("the name the failed load brought was left behind")
	}
	if got["keep:1"] != "sha256:k" {
		t.Error("an unrelated image was touched")
	}
}

// A node that stops reading is cut off after the stall timeout; the other
// nodes get the whole stream and load.
func TestStalledNodeIsCutOffOthersFinish(t *testing.T) {
	fastVerify(t)
	t.Setenv("SLIPWAY_NODE_STALL_TIMEOUT", "300ms")
	img := Image{Ref: "app:1", ID: "sha256:one"}
	good := newFakeNode("good", nil)
	good.onImport = importing(img)
	stuck := newFakeNode("stuck", nil)
	stuck.onImport = func(ctx context.Context, r io.Reader, n *fakeNode) error {
		buf := make([]byte, 1000)
		io.ReadFull(r, buf) // takes a little, then hangs like a paused container
		<-ctx.Done()
		return ctx.Err()
	}
	type res struct {
		out map[string]map[string]Action
		err error
	}
	done := make(chan res, 1)
	go func() {
		out, err := LoadAll(context.Background(), fakeCluster(t, good, stuck), saver{size: 4 << 20}, []Image{img})
		done <- res{out, err}
	}()
	select {
	case r := <-done:
		if r.out[img.Ref]["good"] != Loaded {
			t.Errorf("good node: %v", r.out)
		}
		if _, ok := r.out[img.Ref]["stuck"]; ok {
			t.Errorf("the stuck node reported %v", r.out)
		}
		if !errors.Is(r.err, ErrStalled) || !strings.Contains(r.err.Error(), "stuck") {
			t.Errorf("err %v, want the stuck node's stall", r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("one stuck node stalled the whole load")
	}
}

package kind

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingSaver counts saves, how many were cancelled, and holds each save
// back until the test lets it go or its context ends.
type countingSaver struct {
	started, cancelled atomic.Int32
	size               int
}

func (s *countingSaver) Save(ctx context.Context, w io.Writer, refs ...string) error {
	s.started.Add(1)
	select {
	case <-ctx.Done():
		s.cancelled.Add(1)
		return ctx.Err()
	case <-time.After(10 * time.Millisecond): // the engine's temp-folder copy
	}
	if err := (saver{size: s.size}).Save(ctx, w, refs...); err != nil {
		if ctx.Err() != nil {
			s.cancelled.Add(1)
		}
		return err
	}
	return nil
}

// A fresh image's save starts before the nodes answer and is the one the
// nodes get: one save in all. Where the nodes turn out to hold the image,
// the early save is cancelled and waited for.
func TestFreshImageSavesOnceEarlyAndIsCancelledWhenNotNeeded(t *testing.T) {
	fastVerify(t)
	img := Image{Ref: "app:2", ID: "sha256:two", Fresh: true}
	a := newFakeNode("a", nil)
	b := newFakeNode("b", nil)
	a.onImport, b.onImport = importing(img), importing(img)
	s := &countingSaver{size: 100 << 10}
	out, err := LoadAll(context.Background(), fakeCluster(t, a, b), s, []Image{img})
	if err != nil || out[img.Ref]["a"] != Loaded || out[img.Ref]["b"] != Loaded {
		t.Fatalf("load: %v %v", out, err)
	}
	if s.started.Load() != 1 || s.cancelled.Load() != 0 {
		t.Errorf("%d saves (%d cancelled), want the one early save used", s.started.Load(), s.cancelled.Load())
	}
	// The import's own exec listed the images: no second listing round.
	for _, n := range []*fakeNode{a, b} {
		if c := countLines(n, listImages); c != 2 {
			t.Errorf("node %s listed its images %d times, want 2 (the look and the import's exec): %q", n.name, c, n.log)
		}
	}

	s = &countingSaver{size: 100 << 10}
	out, err = LoadAll(context.Background(), fakeCluster(t, a, b), s, []Image{img})
	if err != nil || out[img.Ref]["a"] != Present {
		t.Fatalf("second load: %v %v", out, err)
	}
	if s.started.Load() != 1 || s.cancelled.Load() != 1 {
		t.Errorf("%d saves, %d cancelled: want the early save cancelled", s.started.Load(), s.cancelled.Load())
	}
}

// An image that is not fresh (reused, loaded again) is saved only once the
// nodes say they lack it: a warm run must not make the engine save every
// image it already loaded.
func TestReusedImageIsNotSavedBeforeTheNodesAnswer(t *testing.T) {
	fastVerify(t)
	img := Image{Ref: "app:1", ID: "sha256:one"}
	n := newFakeNode("n", map[string]string{"app:1": "sha256:one"})
	s := &countingSaver{}
	if _, err := LoadAll(context.Background(), fakeCluster(t, n), s, []Image{img}); err != nil {
		t.Fatal(err)
	}
	if s.started.Load() != 0 {
		t.Errorf("%d saves for an image every node holds", s.started.Load())
	}
}

// When a fresh image turns out to be on one node under another name (a
// rebuild giving the same image), that node is re-tagged, the other is
// sent the early save, and nothing is saved twice.
func TestEarlySaveServesTheNodesThatLackIt(t *testing.T) {
	fastVerify(t)
	img := Image{Ref: "app:3", ID: "sha256:three", Fresh: true}
	has := newFakeNode("has", map[string]string{"app:old": "sha256:three"})
	lacks := newFakeNode("lacks", nil)
	lacks.onImport = importing(img)
	s := &countingSaver{size: 1 << 10}
	out, err := LoadAll(context.Background(), fakeCluster(t, has, lacks), s, []Image{img})
	if err != nil || out[img.Ref]["has"] != Retagged || out[img.Ref]["lacks"] != Loaded {
		t.Fatalf("load: %v %v", out, err)
	}
	if s.started.Load() != 1 || s.cancelled.Load() != 0 {
		t.Errorf("%d saves (%d cancelled), want one", s.started.Load(), s.cancelled.Load())
	}
}

func countLines(n *fakeNode, cmd string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(slices.DeleteFunc(slices.Clone(n.log), func(l string) bool { return !strings.HasPrefix(l, cmd) }))
}

// A node's snapshotter is read from its config once per boot of the node:
// the look after that sends the remembered mark and gets only the mark
// back; a node made again (another mark) is asked again.
func TestSnapshotterRememberedPerNodeBoot(t *testing.T) {
	n := newFakeNode("snap-node", nil)
	snapshotters.Delete(n.String())
	t.Cleanup(func() { snapshotters.Delete(n.String()) })
	if s := snapshotterScript(n); !strings.Contains(s, "= '' ] || "+dumpConfig) {
		t.Fatalf("first look does not ask for the config: %s", s)
	}
	cfg := "[plugins]\n  [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n    snapshotter = \"native\"\n"
	if got := parseSnapshotterPart(n, "111\n"+cfg); got != "native" {
		t.Fatalf("snapshotter %q, want native", got)
	}
	if s := snapshotterScript(n); !strings.Contains(s, "= '111' ] || ") {
		t.Fatalf("the mark is not sent: %s", s)
	}
	if got := parseSnapshotterPart(n, "111\n"); got != "native" {
		t.Errorf("same boot: %q, want the remembered native", got)
	}
	if got := parseSnapshotterPart(n, "222\n"); got != "" {
		t.Errorf("a node made again without its config: %q, want unknown", got)
	}
}

// When the nodes need different sets of the fresh images, no stream takes
// the early save of all of them: it is cancelled at once, and each set is
// saved on its own.
func TestEarlySaveCancelledWhenNodesNeedDifferentSets(t *testing.T) {
	fastVerify(t)
	a1 := Image{Ref: "a:1", ID: "sha256:a1", Fresh: true}
	b1 := Image{Ref: "b:1", ID: "sha256:b1", Fresh: true}
	x := newFakeNode("x", map[string]string{"a:old": "sha256:a1"}) // has a1's content: re-tag
	y := newFakeNode("y", map[string]string{"b:old": "sha256:b1"})
	x.onImport, y.onImport = importing(b1), importing(a1)
	s := &countingSaver{size: 1 << 10}
	if _, err := LoadAll(context.Background(), fakeCluster(t, x, y), s, []Image{a1, b1}); err != nil {
		t.Fatal(err)
	}
	if s.started.Load() != 3 || s.cancelled.Load() != 1 {
		t.Errorf("%d saves, %d cancelled: want the early one cancelled and one per set", s.started.Load(), s.cancelled.Load())
	}
}

// A load that waited for a node held by another load asks for the node's
// layers again under the lock: the other load (or a failed import's
// clean-up) may have changed them since the look.
func TestLayersAskedAgainAfterWaitingForANode(t *testing.T) {
	fastVerify(t)
	img := Image{Ref: "app:9", ID: "sha256:nine", Fresh: true}
	n := newFakeNode("busy", nil)
	n.onImport = importing(img)
	c := fakeCluster(t, n)
	unlock, err := lockNodes(context.Background(), c.Provider, c.Nodes)
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(3 * relookAfter / 2); unlock() }()
	if _, err := LoadAll(context.Background(), c, &countingSaver{size: 1 << 10}, []Image{img}); err != nil {
		t.Fatal(err)
	}
	// the look, the look again, the import's own listing
	if got := countLines(n, listImages); got != 3 {
		t.Errorf("%d image listings, want 3: %q", got, n.log)
	}
}

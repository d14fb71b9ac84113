package kind

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
)

// Under WithStats, a load reports each node once, with its action, the
// bytes it read and its error.
func TestLoadReportsNodeStats(t *testing.T) {
	fastVerify(t)
	img := Image{Ref: "app:1", ID: "sha256:one"}
	cold := newFakeNode("cold", nil)
	cold.onImport = importing(img)
	warm := newFakeNode("warm", map[string]string{"app:1": "sha256:one"})
	bad := newFakeNode("bad", nil)
	bad.onImport = func(ctx context.Context, r io.Reader, n *fakeNode) error {
		io.Copy(io.Discard, r)
		return errors.New("disk full")
	}
	var mu sync.Mutex
	got := map[string]NodeStats{}
	ctx := WithStats(context.Background(), func(s NodeStats) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := got[s.Node]; dup {
			t.Errorf("node %s reported twice", s.Node)
		}
		got[s.Node] = s
	})
	_, err := LoadAll(ctx, fakeCluster(t, cold, warm, bad), saver{size: 100000}, []Image{img})
	if err == nil {
		t.Fatal("the bad node's failure was not reported")
	}
	if s := got["cold"]; s.Actions[img.Ref] != Loaded || s.BytesSent != 100000 || s.Err != nil || !s.End.After(s.Start) {
		t.Errorf("cold: %+v", s)
	}
	if s := got["warm"]; s.Actions[img.Ref] != Present || s.BytesSent != 0 {
		t.Errorf("warm: %+v", s)
	}
	if s := got["bad"]; s.Err == nil || len(s.Actions) != 0 {
		t.Errorf("bad: %+v", s)
	}
}

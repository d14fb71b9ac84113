package kind

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// NodeStats is what one LoadAll did on one node, and when: the data of a
// run report's per-node load rows.
type NodeStats struct {
	Node       string
	Start, End time.Time
	// Actions is what happened to each image ref; a ref missing here was
	// not loaded on this node (see Err).
	Actions map[string]Action
	// BytesSent is how much of the image stream the node read.
	BytesSent int64
	// BytesSkipped is the size of the layers layer-aware loading left out
	// of the stream because the node held them already.
	BytesSkipped int64
	Err          error
}

type statsKey struct{}

// WithStats returns a context under which every LoadAll calls observe once
// per node of its cluster when it ends. It rides on the context, not the
// signatures, because only a run's record wants it and the loads are
// reached through several layers (clusters, publish) that need not know.
func WithStats(ctx context.Context, observe func(NodeStats)) context.Context {
	return context.WithValue(ctx, statsKey{}, observe)
}

func statsObserver(ctx context.Context) func(NodeStats) {
	f, _ := ctx.Value(statsKey{}).(func(NodeStats))
	return f
}

// tally counts bytes per node during one LoadAll that has an observer.
type tally struct {
	mu      sync.Mutex
	sent    map[string]int64
	skipped map[string]int64
	end     map[string]time.Time
}

type tallyKey struct{}

func newTally() *tally {
	return &tally{sent: map[string]int64{}, skipped: map[string]int64{}, end: map[string]time.Time{}}
}

func tallyFrom(ctx context.Context) *tally {
	t, _ := ctx.Value(tallyKey{}).(*tally)
	return t
}

// add counts bytes for node; a nil tally (no observer) counts nothing.
func (t *tally) add(node string, sent, skipped int64) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sent[node] += sent
	t.skipped[node] += skipped
}

func (t *tally) ended(node string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.end[node] = time.Now()
}

// report calls observe for each node with what LoadAll found.
func (t *tally) report(observe func(NodeStats), nodeNames []string, start time.Time, out map[string]map[string]Action, errs []error) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range nodeNames {
		st := NodeStats{Node: n, Start: start, End: now, Actions: map[string]Action{},
			BytesSent: t.sent[n], BytesSkipped: t.skipped[n]}
		if e, ok := t.end[n]; ok {
			st.End = e
		}
		for ref, acts := range out {
			if a, ok := acts[n]; ok {
				st.Actions[ref] = a
			}
		}
		for _, err := range errs {
			if ne, ok := err.(*NodeError); ok && slices.Contains(strings.Split(ne.Node, ","), n) {
				st.Err = err
				break
			}
		}
		observe(st)
	}
}

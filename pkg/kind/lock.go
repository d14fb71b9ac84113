package kind

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/slipway-dev/slipway/pkg/slots"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// lockDir holds one lock file per node, shared by every slipway process on
// the host, whichever user runs it. Two imports fanned out to overlapping
// nodes can otherwise deadlock on containerd's per-blob ingest locks: each
// waits for a blob the other is writing while its own stream is stalled by
// the other node.
func lockDir() string {
	if d := os.Getenv("SLIPWAY_NODE_LOCK_DIR"); d != "" {
		return d
	}
	// Every user must pick the same folder: one that exists already wins,
	// even where this user could not have made it.
	if fi, err := os.Lstat("/run/lock/slipway"); err == nil && fi.IsDir() {
		return "/run/lock/slipway"
	}
	if fi, err := os.Stat("/run/lock"); err == nil && fi.IsDir() {
		if f, err := os.CreateTemp("/run/lock", ".slipway-probe-*"); err == nil {
			f.Close()
			os.Remove(f.Name())
			return "/run/lock/slipway"
		}
	}
	return filepath.Join(os.TempDir(), "slipway-lock")
}

// lockNodes takes every node's import lock, always in name order so that
// two processes can never hold one each and wait for the other.
func lockNodes(ctx context.Context, provider string, ns []nodes.Node) (func(), error) {
	dir := lockDir()
	// Mode 1777 and 0666 lock files: a second Unix user on the host must
	// be able to take the same locks (see pkg/slots/shared.go).
	if err := slots.SharedDir(dir); err != nil {
		return nil, fmt.Errorf("node locks: %w", err)
	}
	names := make([]string, len(ns))
	for i, n := range ns {
		names[i] = n.String()
	}
	slices.Sort(names)
	var held []*slots.FileLock
	release := func() {
		for _, l := range held {
			_ = l.Unlock()
		}
	}
	for _, n := range names {
		l, err := slots.LockShared(ctx, filepath.Join(dir, provider+"-"+n+".lock"), 50*time.Millisecond)
		if err != nil {
			release()
			return nil, fmt.Errorf("waiting for node %s: %w", n, err)
		}
		held = append(held, l)
	}
	return release, nil
}

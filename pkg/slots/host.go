package slots

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Host is a bound shared by every slipway process on the machine (several
// developers and CI jobs on one runner): N lock files in Dir, one per slot.
// The kernel frees a slot when its holder dies, so a crash never leaks one.
type Host struct {
	Dir  string
	N    int
	Poll time.Duration
}

// DefaultHostDir is where host slots live unless SLIPWAY_HOST_SLOTS_DIR says otherwise.
func DefaultHostDir() string {
	if d := os.Getenv("SLIPWAY_HOST_SLOTS_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "slipway-host-slots")
}

func (h Host) Acquire(ctx context.Context, wait func()) (func(), error) {
	// Shared like /tmp by every user of the machine; see shared.go.
	if err := SharedDir(h.Dir); err != nil {
		return nil, fmt.Errorf("host build slots: %w", err)
	}
	poll := h.Poll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	waited := false
	for {
		for i := 0; i < h.N; i++ {
			l, err := TryLockShared(filepath.Join(h.Dir, "slot-"+strconv.Itoa(i)))
			if err != nil {
				return nil, fmt.Errorf("host build slot %d: %w", i, err)
			}
			if l != nil {
				return func() { _ = l.Unlock() }, nil
			}
		}
		if !waited && wait != nil {
			waited = true
			wait()
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(poll):
		}
	}
}

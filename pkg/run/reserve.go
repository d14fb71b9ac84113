package run

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// reservationGrace covers a reservation whose run has no folder yet: a
// caller that reserves before Start still gets a moment to create it.
const reservationGrace = 2 * time.Minute

// Reserve claims ref for run runID across every slipway process sharing
// stateDir, so two runs started in the same second never pick the same tag.
// It reports false while another live run holds it. A reservation binds only
// as long as its run holds its lock: once that run ends (or dies) the name
// is free again here, and the engine decides whether it is taken.
func Reserve(stateDir, ref, runID string) (bool, error) {
	dir := filepath.Join(stateDir, "reserved")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("reserving %s: %w", ref, err)
	}
	// One lock for the folder makes "read the holder, find it dead, take
	// over" atomic; without it two runs could both take over a stale claim.
	l := flock.New(filepath.Join(dir, ".lock"))
	if err := l.Lock(); err != nil {
		return false, fmt.Errorf("reserving %s: %w", ref, err)
	}
	defer l.Unlock()
	p := reservationPath(dir, ref)
	claim := runID + " " + ref
	if b, err := os.ReadFile(p); err == nil {
		holder, _, _ := strings.Cut(string(b), " ")
		if string(b) == claim {
			return true, nil
		}
		if fi, err := os.Stat(p); err == nil && Live(stateDir, holder, fi.ModTime()) {
			return false, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("reserving %s: %w", ref, err)
	}
	if err := WriteFileAtomic(p, []byte(claim)); err != nil {
		return false, fmt.Errorf("reserving %s: %w", ref, err)
	}
	return true, nil
}

func reservationPath(dir, ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return filepath.Join(dir, hex.EncodeToString(sum[:12]))
}

// Live reports whether run id is still in progress: it holds its lock, or
// it has no folder yet but claimed something less than a moment ago (since).
func Live(stateDir, id string, since time.Time) bool {
	dir := filepath.Join(stateDir, "runs", id)
	if _, err := os.Stat(filepath.Join(dir, "run.json")); err != nil {
		return time.Since(since) < reservationGrace
	}
	release, ok, err := TryLock(dir)
	if err != nil {
		return true // when in doubt, the other run keeps what it has
	}
	if ok {
		release()
	}
	return !ok
}

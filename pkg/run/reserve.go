package run

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// reservationTTL bounds how long a claimed ref blocks others: longer than
// any build, short enough that the folder stays small.
const reservationTTL = 24 * time.Hour

// Reserve claims ref for this run across every slipway process sharing
// stateDir, so two runs started in the same second never pick the same tag.
// It reports false when another run holds it.
func Reserve(stateDir, ref, runID string) (bool, error) {
	dir := filepath.Join(stateDir, "reserved")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("reserving %s: %w", ref, err)
	}
	sum := sha256.Sum256([]byte(ref))
	p := filepath.Join(dir, hex.EncodeToString(sum[:12]))
	if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > reservationTTL {
		os.Remove(p)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if errors.Is(err, fs.ErrExist) {
		owner, _ := os.ReadFile(p)
		return string(owner) == runID+" "+ref, nil
	}
	if err != nil {
		return false, fmt.Errorf("reserving %s: %w", ref, err)
	}
	defer f.Close()
	_, err = f.WriteString(runID + " " + ref)
	return true, err
}

package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
)

// ErrInProgress is returned when a run still holds its lock.
var ErrInProgress = errors.New("run is still in progress")

// ErrUnknownRun is returned for a run ID with no record.
var ErrUnknownRun = errors.New("no such run")

// lock is held for a run's whole life; the kernel drops it if the process
// dies, so a SIGKILLed run can be cleaned without --force.
func lockPath(dir string) string { return filepath.Join(dir, "lock") }

// TryLock takes a run's lock without waiting. ok is false while the run
// (or another clean) holds it.
func TryLock(dir string) (release func(), ok bool, err error) {
	l := flock.New(lockPath(dir))
	ok, err = l.TryLock()
	if err != nil {
		return nil, false, fmt.Errorf("locking run %s: %w", filepath.Base(dir), err)
	}
	if !ok {
		return nil, false, nil
	}
	return func() { _ = l.Unlock() }, true, nil
}

// Load reads the record of run id under stateDir.
func Load(stateDir, id string) (Record, string, error) {
	dir := filepath.Join(stateDir, "runs", id)
	b, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if errors.Is(err, os.ErrNotExist) || filepath.Base(id) != id {
		return Record{}, "", fmt.Errorf("%w %q in %s", ErrUnknownRun, id, stateDir)
	}
	if err != nil {
		return Record{}, "", fmt.Errorf("reading run %s: %w", id, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, "", fmt.Errorf("reading run %s: %s is damaged (%v); remove that folder to forget the run", id, filepath.Join(dir, "run.json"), err)
	}
	return r, dir, nil
}

// Package run holds one slipway run's state on disk: its ID, its folder of
// logs, and its record of what it made, written atomically as it goes so
// that a crashed run still says what it had done.
package run

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// StateDir is where slipway keeps runs: $SLIPWAY_STATE_DIR, else
// $XDG_STATE_HOME/slipway, else ~/.local/state/slipway.
func StateDir() string {
	if d := os.Getenv("SLIPWAY_STATE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "slipway")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "slipway")
	}
	return filepath.Join(os.TempDir(), "slipway-state")
}

// NewID makes a run ID that starts with the start time, to the second, and
// is unique even for runs started in the same second. Order runs by their
// records' Started (see later), not by ID: within a second the ID's order is
// random.
func NewID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// Service is one service's line in the record and in the metadata file.
type Service struct {
	Image      string `json:"image"`
	Tag        string `json:"tag"`
	ID         string `json:"id,omitempty"`
	Status     Status `json:"status"`
	DurationMS int64  `json:"duration_ms"`
	// Started is when the build got its slot and began.
	Started *time.Time `json:"started,omitempty"`
	Error   string     `json:"error,omitempty"`
	Log     string     `json:"log,omitempty"`
	Kind    *KindLoad  `json:"kind,omitempty"`
	// Pushed is the registry digest of a pushed image.
	Pushed string `json:"pushed,omitempty"`
	// CleanedUp is set once --cleanup removed the engine's copy.
	CleanedUp bool `json:"cleaned_up,omitempty"`
	// Borrowed marks an image this run used under a name it did not give
	// (--reuse TAG names somebody's existing image): the run never
	// removes that name, anywhere.
	Borrowed bool `json:"borrowed,omitempty"`
	// Tagged is when this run gave the image its name. Prune ages a name
	// by it: a re-tagged image carries the creation label of the run that
	// built it, which says nothing about how long this name has existed.
	Tagged *time.Time `json:"tagged,omitempty"`
	// Timing is where the service's time went, phase by phase.
	Timing *Timing `json:"timing,omitempty"`
	// DependsOn are the services it was built FROM in this run (the
	// report's critical path follows them).
	DependsOn []string `json:"depends_on,omitempty"`
}

// KindLoad records what loading into a Kind cluster did on each node:
// loaded, retagged or present.
type KindLoad struct {
	Cluster    string            `json:"cluster"`
	Nodes      map[string]string `json:"nodes"`
	DurationMS int64             `json:"duration_ms"`
	// Loads is each node's part of the load, by node name.
	Loads map[string]*NodeLoad `json:"loads,omitempty"`
}

// Record is a run's account of itself; it is also the metadata file's shape.
type Record struct {
	Run      string              `json:"run"`
	Project  string              `json:"project"`
	User     string              `json:"user"`
	Engine   string              `json:"engine"`
	Started  time.Time           `json:"started"`
	Ended    *time.Time          `json:"ended,omitempty"`
	State    State               `json:"state"`
	Services map[string]*Service `json:"services"`
}

// Run is a live run: its folder and its record, saved on every change.
type Run struct {
	Dir string

	mu     sync.Mutex
	rec    Record
	unlock func()
}

// Start creates the run's folder under stateDir and saves its first record.
func Start(stateDir string, rec Record) (*Run, error) {
	dir := filepath.Join(stateDir, "runs", rec.Run)
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("creating run folder: %w", err)
	}
	if rec.Services == nil {
		rec.Services = map[string]*Service{}
	}
	rec.State = Running
	unlock, ok, err := TryLock(dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("run %s: %w", rec.Run, ErrInProgress)
	}
	r := &Run{Dir: dir, rec: rec, unlock: unlock}
	if err := r.save(); err != nil {
		unlock()
		return nil, err
	}
	return r, nil
}

// Close releases the run's lock; the record stays.
func (r *Run) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unlock != nil {
		r.unlock()
		r.unlock = nil
	}
}

// LogPath is where service's full build log goes.
func (r *Run) LogPath(service string) string {
	return filepath.Join(r.Dir, "logs", service+".log")
}

// Update changes the record under the lock and saves it.
func (r *Run) Update(f func(*Record)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.rec)
	return r.saveLocked()
}

// Snapshot is a deep copy of the record.
func (r *Run) Snapshot() Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.rec
	c.Services = make(map[string]*Service, len(r.rec.Services))
	for k, v := range r.rec.Services {
		s := *v
		c.Services[k] = &s
	}
	return c
}

func (r *Run) save() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.saveLocked()
}

func (r *Run) saveLocked() error {
	data, err := json.MarshalIndent(&r.rec, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(r.Dir, "run.json"), append(data, '\n'))
}

// WriteFileAtomic writes via a temp file and rename, so readers (and a crash)
// see the old or the new content, never half.
func WriteFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, werr)
	}
	return nil
}

package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/gofrs/flock"
)

// The index is a cache of every run record, keyed by run ID and checked
// against each run.json's size and modification time, so that listings
// (ls, clean, prune, load SERVICE) read one file plus a stat per run
// instead of parsing every record. Each run's run.json stays the one
// source of truth; only Records writes the index.
const indexFile = "index.json"

type indexEntry struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	Record  Record `json:"record"`
}

// Records reads every run record under stateDir, newest first. Unreadable
// or corrupt ones are skipped: a run killed while starting may have left
// none, and one broken file must not stop every listing.
func Records(stateDir string) ([]Record, error) {
	runs := filepath.Join(stateDir, "runs")
	ents, err := os.ReadDir(runs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading runs: %w", err)
	}
	idx := readIndex(stateDir)
	fresh := make(map[string]indexEntry, len(ents))
	changed := false
	for _, e := range ents {
		id := e.Name()
		fi, err := os.Stat(filepath.Join(runs, id, "run.json"))
		if err != nil {
			continue
		}
		if old, ok := idx[id]; ok && old.Size == fi.Size() && old.ModTime == fi.ModTime().UnixNano() {
			fresh[id] = old
			continue
		}
		changed = true
		b, err := os.ReadFile(filepath.Join(runs, id, "run.json"))
		if err != nil {
			continue
		}
		var r Record
		if json.Unmarshal(b, &r) != nil || r.Run != id {
			continue
		}
		fresh[id] = indexEntry{Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), Record: r}
	}
	if changed || len(fresh) != len(idx) {
		writeIndex(stateDir, fresh)
	}
	out := make([]Record, 0, len(fresh))
	for _, e := range fresh {
		out = append(out, e.Record)
	}
	// Newest first, by start time: run IDs carry it only to the second.
	sort.Slice(out, func(i, j int) bool { return later(out[i].Started, out[i].Run, out[j].Started, out[j].Run) })
	return out, nil
}

func readIndex(stateDir string) map[string]indexEntry {
	b, err := os.ReadFile(filepath.Join(stateDir, indexFile))
	if err != nil {
		return nil
	}
	var idx map[string]indexEntry
	if json.Unmarshal(b, &idx) != nil {
		return nil // a corrupt index is only a cold cache
	}
	return idx
}

// writeIndex saves the index if no other process is saving it right now;
// losing the race only costs the next reader a few re-reads.
func writeIndex(stateDir string, idx map[string]indexEntry) {
	l := flock.New(filepath.Join(stateDir, indexFile+".lock"))
	ok, err := l.TryLock()
	if err != nil || !ok {
		return
	}
	defer l.Unlock()
	b, err := json.Marshal(idx)
	if err != nil {
		return
	}
	_ = WriteFileAtomic(filepath.Join(stateDir, indexFile), b)
}

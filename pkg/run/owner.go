package run

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// Name is an image name a run gave, as its record tells.
type Name struct {
	Run    string
	Ref    string
	ID     string // the image the name was given to; "" if the run died first
	Tagged time.Time
}

// Owners maps each image name to the run that owns it: the run whose record
// gave that name last (by when it was given, to the nanosecond; run IDs only
// break exact ties). Run IDs alone are not enough: two runs started in the
// same second have IDs that differ only by their random part. A name given again by a later run (a fixed tag, a
// template without .Unix) belongs to the later run from then on, so cleaning
// the earlier one leaves it alone even when both named the same image.
// Borrowed names (--reuse) are never owned by the run that borrowed them.
func Owners(recs []Record) map[string]Name {
	out := map[string]Name{}
	started := map[string]time.Time{} // run -> its start, for ties
	for _, r := range recs {
		started[r.Run] = r.Started
	}
	for _, r := range recs {
		for _, s := range r.Services {
			if s.Borrowed || s.Image == "" {
				continue
			}
			n := Name{Run: r.Run, Ref: s.Image, ID: s.ID, Tagged: r.Started}
			if s.Tagged != nil {
				n.Tagged = *s.Tagged
			}
			// A carried name keeps the time it was first given, so the run
			// that carried it ties with the one that gave it: the later
			// run (by start, then ID) holds it now.
			if cur, ok := out[s.Image]; ok && (cur.Tagged.After(n.Tagged) ||
				cur.Tagged.Equal(n.Tagged) && later(started[cur.Run], cur.Run, started[n.Run], n.Run)) {
				continue
			}
			out[s.Image] = n
		}
	}
	return out
}

// LiveRuns returns the IDs of runs still in progress (holding their lock).
// Only records that never reached an end state are checked.
func LiveRuns(stateDir string, recs []Record) map[string]bool {
	out := map[string]bool{}
	for _, r := range recs {
		if r.Ended == nil && Live(stateDir, r.Run, r.Started) {
			out[r.Run] = true
		}
	}
	return out
}

// Remove deletes run id's folder, unless the run is still in progress.
func Remove(stateDir, id string) error {
	if filepath.Base(id) != id || id == "" {
		return fmt.Errorf("%w %q", ErrUnknownRun, id)
	}
	dir := filepath.Join(stateDir, "runs", id)
	release, ok, err := TryLock(dir)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("run %s: %w", id, ErrInProgress)
	}
	defer release()
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing run %s: %w", id, err)
	}
	return nil
}

// PruneReservations removes tag reservations older than cutoff whose run
// no longer holds its lock, and returns how many it removed.
func PruneReservations(stateDir string, cutoff time.Time) (int, error) {
	dir := filepath.Join(stateDir, "reserved")
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading reservations: %w", err)
	}
	// The folder lock keeps a claim from being renewed between the age
	// check and the removal.
	l := flock.New(filepath.Join(dir, ".lock"))
	if err := l.Lock(); err != nil {
		return 0, fmt.Errorf("locking reservations: %w", err)
	}
	defer l.Unlock()
	n := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil || fi.ModTime().After(cutoff) {
			continue
		}
		b, _ := os.ReadFile(p)
		holder, _, _ := strings.Cut(string(b), " ")
		if holder != "" && Live(stateDir, holder, fi.ModTime()) {
			continue
		}
		if os.Remove(p) == nil {
			n++
		}
	}
	return n, nil
}

// later reports whether (t1, id1) comes after (t2, id2): by time first, and
// by run ID only when the times are equal, so the order is total.
func later(t1 time.Time, id1 string, t2 time.Time, id2 string) bool {
	if !t1.Equal(t2) {
		return t1.After(t2)
	}
	return id1 > id2
}

package report

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/slipway-dev/slipway/pkg/run"
)

// WriteOptions say which run to report and where.
type WriteOptions struct {
	// StateDir holds the runs; "" means run.StateDir().
	StateDir string
	// Run is a run ID, or a prefix naming one run; "" means the newest
	// (of Project, when it is set and has runs).
	Run     string
	Project string
	// HTML is the page's path; "" means report.html in the run's folder.
	HTML string
	// Trace, if set, is where the Chrome trace-event JSON goes.
	Trace string
}

// Written says what Write wrote.
type Written struct {
	Run, HTML, Trace string
}

// ErrNoRun is a run that is not in the state folder.
var ErrNoRun = errors.New("no such run")

// Write renders a run's report (and trace) from its record.
func Write(o WriteOptions) (Written, error) {
	if o.StateDir == "" {
		o.StateDir = run.StateDir()
	}
	recs, err := run.Records(o.StateDir)
	if err != nil {
		return Written{}, err
	}
	rec, err := find(recs, o.Run, o.Project)
	if err != nil {
		return Written{}, err
	}
	m := New(rec, Options{History: recs})
	w := Written{Run: rec.Run, HTML: o.HTML, Trace: o.Trace}
	if w.HTML == "" {
		w.HTML = filepath.Join(o.StateDir, "runs", rec.Run, "report.html")
	}
	var page bytes.Buffer
	if err := m.WriteHTML(&page); err != nil {
		return w, err
	}
	if err := run.WriteFileAtomic(w.HTML, page.Bytes()); err != nil {
		return w, fmt.Errorf("writing the report: %w", err)
	}
	if w.Trace != "" {
		var tr bytes.Buffer
		if err := m.WriteTrace(&tr); err != nil {
			return w, err
		}
		if err := run.WriteFileAtomic(w.Trace, tr.Bytes()); err != nil {
			return w, fmt.Errorf("writing the trace: %w", err)
		}
	}
	return w, nil
}

// find picks the run id names in recs (newest first), or the newest run,
// of project if it has one.
func find(recs []run.Record, id, project string) (run.Record, error) {
	if len(recs) == 0 {
		return run.Record{}, fmt.Errorf("%w: the state folder holds no runs", ErrNoRun)
	}
	if id == "" {
		for _, r := range recs {
			if r.Project == project {
				return r, nil
			}
		}
		return recs[0], nil
	}
	var match []run.Record
	for _, r := range recs {
		if r.Run == id {
			return r, nil
		}
		if strings.HasPrefix(r.Run, id) {
			match = append(match, r)
		}
	}
	switch len(match) {
	case 0:
		return run.Record{}, fmt.Errorf("%w: %s", ErrNoRun, id)
	case 1:
		return match[0], nil
	}
	return run.Record{}, fmt.Errorf("%w: %s names %d runs (%s, %s, ...)", ErrNoRun, id, len(match), match[0].Run, match[1].Run)
}

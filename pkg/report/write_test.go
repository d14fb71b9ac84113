package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/run"
)

func TestWriteFindsTheRun(t *testing.T) {
	state := t.TempDir()
	for _, rec := range []run.Record{
		{Run: "20261127T040000-aaaaaa", Project: "mine", Started: time.Now()},
		{Run: "20261127T050000-bbbbbb", Project: "other", Started: time.Now()},
	} {
		r, err := run.Start(state, rec)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	w, err := Write(WriteOptions{StateDir: state})
	if err != nil || w.Run != "20261127T050000-bbbbbb" {
		t.Fatalf("newest: %+v %v", w, err)
	}
	if _, err := os.Stat(filepath.Join(state, "runs", w.Run, "report.html")); err != nil {
		t.Errorf("no report in the run's folder: %v", err)
	}
	w, err = Write(WriteOptions{StateDir: state, Project: "mine"})
	if err != nil || w.Run != "20261127T040000-aaaaaa" {
		t.Errorf("the project's newest: %+v %v", w, err)
	}
	trace := filepath.Join(t.TempDir(), "t.json")
	w, err = Write(WriteOptions{StateDir: state, Run: "20261127T04", HTML: filepath.Join(t.TempDir(), "r.html"), Trace: trace})
	if err != nil || w.Run != "20261127T040000-aaaaaa" || w.Trace != trace {
		t.Errorf("by prefix: %+v %v", w, err)
	}
	if b, err := os.ReadFile(trace); err != nil || !strings.Contains(string(b), `"traceEvents"`) {
		t.Errorf("trace: %v", err)
	}
	if _, err := Write(WriteOptions{StateDir: state, Run: "2026"}); !errors.Is(err, ErrNoRun) {
		t.Errorf("an ambiguous prefix: %v", err)
	}
	if _, err := Write(WriteOptions{StateDir: state, Run: "nope"}); !errors.Is(err, ErrNoRun) {
		t.Errorf("an unknown run: %v", err)
	}
}

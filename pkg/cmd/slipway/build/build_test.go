package build

import (
	"bytes"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/run"
)

// The line under the table: wall time, build time against it, and what
// reuse saved, from the durations of the runs that built the reused images.
func TestSummary(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	end := start.Add(10 * time.Second)
	earlier := run.Record{Run: "r0", Services: map[string]*run.Service{
		"db": {ID: "sha256:db", Status: run.Built, DurationMS: 45_000},
	}}
	this := run.Record{Run: "r1", Started: start, Ended: &end, Services: map[string]*run.Service{
		"api": {ID: "sha256:a", Status: run.Built, DurationMS: 8000},
		"web": {ID: "sha256:w", Status: run.Built, DurationMS: 7000},
		"db":  {ID: "sha256:db", Status: run.Reused},
		"old": {ID: "sha256:gone", Status: run.Reused},
	}}
	var b bytes.Buffer
	printSummary(&b, this.Totals([]run.Record{earlier, this}))
	want := "wall 10s, build time 15s (1.5x the wall time), 2 reused saving at least 45s of builds (1 built by runs no longer recorded)\n"
	if b.String() != want {
		t.Errorf("summary = %q\nwant      %q", b.String(), want)
	}
	b.Reset()
	this.Services = map[string]*run.Service{"db": {ID: "sha256:db", Status: run.Reused}}
	printSummary(&b, this.Totals([]run.Record{earlier}))
	if want := "wall 10s, 1 reused saving 45s of builds\n"; b.String() != want {
		t.Errorf("summary = %q, want %q", b.String(), want)
	}
}

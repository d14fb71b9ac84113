package run

import (
	"testing"
	"time"
)

func TestTotals(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	end := at(10)
	earlier := Record{Run: "old", Services: map[string]*Service{
		"web": {ID: "sha256:web", Status: Built, DurationMS: 7000},
	}}
	rec := Record{Run: "now", Started: t0, Ended: &end, Services: map[string]*Service{
		"base": {Status: Built, ID: "sha256:base", Timing: &Timing{Build: &Span{at(0), at(4)}}},
		"api": {Status: Built, ID: "sha256:api", Timing: &Timing{Build: &Span{at(4), at(10)}},
			Kind: &KindLoad{Loads: map[string]*NodeLoad{
				"n1": {Action: "loaded", BytesSent: 100, BytesSkipped: 900},
				"n2": {Action: "present"},
			}}},
		"worker": {Status: Built, DurationMS: 5000}, // a record older than spans
		"web":    {Status: Reused, ID: "sha256:web"},
		"gone":   {Status: Reused, ID: "sha256:pruned"},
		"bad":    {Status: Failed, Timing: &Timing{Build: &Span{at(1), at(2)}}},
	}}
	tot := rec.Totals([]Record{earlier, rec})
	if tot.Wall != 10*time.Second {
		t.Errorf("wall %s", tot.Wall)
	}
	if tot.Build != 16*time.Second || tot.SpeedUp() != 1.6 {
		t.Errorf("build %s speed-up %v", tot.Build, tot.SpeedUp())
	}
	if tot.Saved != 7*time.Second || tot.Unknown != 1 {
		t.Errorf("saved %s unknown %d", tot.Saved, tot.Unknown)
	}
	if tot.Built != 3 || tot.Reused != 2 || tot.Failed != 1 {
		t.Errorf("counts %+v", tot)
	}
	if n := tot.Nodes["n1"]; n.Sent != 100 || n.Skipped != 900 || n.Loaded != 1 || tot.Nodes["n2"].Present != 1 {
		t.Errorf("nodes %+v", tot.Nodes)
	}
	if tot.Sent() != 100 || tot.Skipped() != 900 {
		t.Errorf("bytes %d %d", tot.Sent(), tot.Skipped())
	}
}

func TestTotalsOfARunWithoutEnd(t *testing.T) {
	t0 := time.Now()
	rec := Record{Started: t0, Services: map[string]*Service{
		"a": {Status: Building, Timing: &Timing{Build: &Span{Start: t0.Add(time.Second)}, SlotWait: &Span{t0, t0.Add(time.Second)}}},
	}}
	if w := rec.Totals(nil).Wall; w != time.Second {
		t.Fatalf("wall %s, want the last recorded moment", w)
	}
}

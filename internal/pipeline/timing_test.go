package pipeline

import (
	"fmt"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/run"
)

// BuildKit's plain progress, in chunks that split lines, gives one step per
// Dockerfile step with its cached or failed state; BuildKit's internal
// steps are left out.
func TestStepTrackerReadsPlainProgress(t *testing.T) {
	out := "#0 building with \"default\" instance\n\n" +
		"#1 [internal] load build definition from Dockerfile\n#1 DONE 0.0s\n\n" +
		"#5 [1/3] FROM slipway.local/base/debian:bookworm\n#5 CACHED\n\n" +
		"#6 [2/3] RUN echo hi\n#6 0.2 hi\n#6 [2/3] RUN echo hi\n#6 DONE 0.3s\n\n" +
		"#7 [3/3] RUN exit 3\n#7 ERROR: process \"/bin/sh -c exit 3\" did not complete successfully\n"
	var st stepTracker
	for i := 0; i < len(out); i += 7 {
		fmt.Fprint(&st, out[i:min(i+7, len(out))])
	}
	got := st.list()
	want := []run.Step{{Name: "[1/3] FROM slipway.local/base/debian:bookworm", Cached: true}, {Name: "[2/3] RUN echo hi"}, {Name: "[3/3] RUN exit 3", Error: true}}
	if len(got) != len(want) {
		t.Fatalf("steps %+v", got)
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.Name || g.Cached != w.Cached || g.Error != w.Error || g.Span.End.IsZero() {
			t.Errorf("step %d = %+v, want %+v (ended)", i, g, w)
		}
	}
}

// The record gets a slot wait only for a build that waited, ending when it
// began; a reused image has a reuse span and no build.
func TestTimingRecord(t *testing.T) {
	tm := &timing{deps: []string{"base"}}
	tm.ready(time.Now().Add(-time.Second))
	tm.looked()
	tm.waiting()
	img := &Image{Status: run.Built, Started: time.Now(), Duration: time.Second}
	rt := tm.record(img)
	if rt.DepWait.Duration() < time.Second || rt.Inputs == nil || rt.Build.Duration() != time.Second || rt.Reuse != nil {
		t.Fatalf("%+v", rt)
	}
	if !rt.SlotWait.End.Equal(img.Started) {
		t.Errorf("slot wait %+v does not end at the build's start", rt.SlotWait)
	}
	reused := (&timing{}).record(&Image{Status: run.Reused, Started: time.Now(), Duration: time.Millisecond})
	if reused.Reuse == nil || reused.Build != nil || reused.DepWait != nil || reused.SlotWait != nil {
		t.Errorf("reused %+v", reused)
	}
}

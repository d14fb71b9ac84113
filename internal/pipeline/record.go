package pipeline

import (
	"sync"
	"time"

	"github.com/slipway-dev/slipway/pkg/run"
)

// recorder is the one writer of a run's record. The images are the source
// of truth while the run goes; every change reaches the record through
// save, which copies the images into it, so the two never disagree. A save
// that fails (a full disk) is remembered and reported when the run ends,
// but does not stop the builds: the images matter more than their account.
type recorder struct {
	run *run.Run

	mu  sync.Mutex
	err error
}

// save copies imgs into the record and writes it.
func (rc *recorder) save(imgs ...*Image) {
	rc.note(rc.run.Update(func(rec *run.Record) {
		for _, img := range imgs {
			rs := rec.Services[img.Service]
			if rs == nil {
				rs = &run.Service{}
				rec.Services[img.Service] = rs
			}
			img.fill(rs)
		}
	}))
}

// finish writes the run's end state with every image, and returns the
// first error any save met.
func (rc *recorder) finish(state run.State, imgs map[string]*Image) error {
	end := time.Now()
	rc.note(rc.run.Update(func(rec *run.Record) {
		rec.State, rec.Ended = state, &end
		for s, img := range imgs {
			if rec.Services[s] == nil {
				rec.Services[s] = &run.Service{}
			}
			img.fill(rec.Services[s])
		}
	}))
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.err
}

func (rc *recorder) note(err error) {
	if err == nil {
		return
	}
	rc.mu.Lock()
	if rc.err == nil {
		rc.err = err
	}
	rc.mu.Unlock()
}

// fill copies what is known of img into its record entry.
func (img *Image) fill(rs *run.Service) {
	rs.Image, rs.Tag, rs.Pushed, rs.Log = img.Ref, img.Tag, img.Pushed, img.Log
	rs.ID, rs.DurationMS, rs.CleanedUp, rs.Borrowed = img.ID, img.Duration.Milliseconds(), img.CleanedUp, img.Borrowed
	rs.Status = img.Status
	if !img.Tagged.IsZero() {
		t := img.Tagged
		rs.Tagged = &t
	}
	if !img.Started.IsZero() {
		t := img.Started
		rs.Started = &t
	}
	if img.Err != nil {
		rs.Error = img.Err.Error()
	}
	if img.timing != nil {
		rs.Timing, rs.DependsOn = img.timing.record(img), img.timing.dependsOn()
	}
	if l := img.Kind; l != nil {
		rs.Kind = &run.KindLoad{Cluster: l.Cluster, Nodes: map[string]string{}, DurationMS: l.Duration.Milliseconds()}
		if img.timing != nil {
			rs.Kind.Loads = img.timing.nodeLoads()
		}
		for n, a := range l.Nodes {
			rs.Kind.Nodes[n] = string(a)
		}
		if l.Err != nil {
			rs.Status, rs.Error = run.Failed, l.Err.Error()
		}
	}
}

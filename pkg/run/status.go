package run

// Status is where one service's image is in a run; the record, the
// metadata file, the library's Result and the CLI's table all use it.
type Status string

const (
	Queued   Status = "queued"
	Building Status = "building"
	Built    Status = "built"
	Reused   Status = "reused" // same inputs as an existing image: re-tagged
	// ReusedRegistry: same inputs as an image in the registry (found by
	// its input-digest tag, its label checked): re-tagged there or pulled.
	ReusedRegistry Status = "reused (registry)"
	Failed         Status = "failed"
	Cancelled      Status = "cancelled"
	Skipped        Status = "skipped" // a dependency failed
)

// Produced reports whether the service has an image: built or reused.
func (s Status) Produced() bool { return s == Built || s.IsReused() }

// IsReused reports whether the service's image was reused, not built:
// from the engine or from the registry.
func (s Status) IsReused() bool { return s == Reused || s == ReusedRegistry }

// Final reports whether the service's part in the run is over.
func (s Status) Final() bool { return s != Queued && s != Building && s != "" }

// State is how a whole run stands.
type State string

const (
	Running     State = "running"
	Done        State = "done"
	RunFailed   State = "failed"
	Interrupted State = "interrupted"
)

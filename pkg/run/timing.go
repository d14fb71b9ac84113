package run

import "time"

// Span is a stretch of a run's time. A span still open when the record was
// saved (a crash, a run still going) has a zero End.
type Span struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
}

// NewSpan returns the span from start to end; nil when start is zero, so
// an unset phase is left out of the record.
func NewSpan(start, end time.Time) *Span {
	if start.IsZero() {
		return nil
	}
	return &Span{Start: start, End: end}
}

// Duration is the span's length; an open span counts as nothing.
func (s *Span) Duration() time.Duration {
	if s == nil || s.End.IsZero() || s.End.Before(s.Start) {
		return 0
	}
	return s.End.Sub(s.Start)
}

// Timing is where one service's time in the run went, phase by phase, for
// `slipway report`. Every field is optional: a phase that did not happen
// (no dependencies, no wait for a slot, no push) has none.
type Timing struct {
	// DepWait runs from the start of the schedule until the service's
	// dependencies were all done.
	DepWait *Span `json:"dep_wait,omitempty"`
	// Inputs is the input digest and the look for an image to reuse.
	Inputs *Span `json:"inputs,omitempty"`
	// SlotWait is the wait for a build slot (jobs, host jobs).
	SlotWait *Span `json:"slot_wait,omitempty"`
	// Build is the engine's build, from the slot to the image (or failure).
	Build *Span `json:"build,omitempty"`
	// Steps are the build's steps as the builder reported them, when it did.
	Steps []Step `json:"steps,omitempty"`
	// Reuse is re-tagging an existing image instead of building.
	Reuse *Span `json:"reuse,omitempty"`
	// Push is the push to the registry.
	Push *Span `json:"push,omitempty"`
	// DeliveryWait runs from the image being ready to its push or load
	// starting: deliveries share a bounded pool.
	DeliveryWait *Span `json:"delivery_wait,omitempty"`
}

// Step is one BuildKit step of a build.
type Step struct {
	Name   string `json:"name"`
	Span   Span   `json:"span"`
	Cached bool   `json:"cached,omitempty"`
	Error  bool   `json:"error,omitempty"`
}

// NodeLoad is what loading one image did on one Kind node, and when.
type NodeLoad struct {
	Span   Span   `json:"span"`
	Action string `json:"action,omitempty"` // present, retagged or loaded; "" when it failed
	// BytesSent is how much of the image stream the node read.
	BytesSent int64 `json:"bytes_sent,omitempty"`
	// BytesSkipped is the size of the layers the node already held, which
	// layer-aware loading left out of the stream.
	BytesSkipped int64  `json:"bytes_skipped,omitempty"`
	Error        string `json:"error,omitempty"`
}

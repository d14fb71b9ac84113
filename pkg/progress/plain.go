package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Plain writes one [service]-prefixed line per event: readable in CI logs,
// where a redrawn view would be noise.
type Plain struct {
	mu     sync.Mutex
	w      io.Writer
	start  map[string]time.Time
	closed bool
}

func NewPlain(w io.Writer) *Plain { return &Plain{w: w, start: map[string]time.Time{}} }

func (p *Plain) Event(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	switch e.State {
	case Log:
		fmt.Fprintf(p.w, "[%s] %s\n", e.Service, e.Line)
	case Building, Loading, Pushing:
		p.start[e.Service] = e.Time
		msg := fmt.Sprintf("[%s] %s %s", e.Service, e.State, e.Ref)
		if e.Line != "" {
			msg += " (" + e.Line + ")"
		}
		fmt.Fprintln(p.w, msg)
	case Queued:
	default:
		msg := fmt.Sprintf("[%s] %s", e.Service, e.State)
		if e.Ref != "" {
			msg += " " + e.Ref
		}
		if t, ok := p.start[e.Service]; ok && e.State.Final() {
			msg += fmt.Sprintf(" in %s", e.Time.Sub(t).Round(100*time.Millisecond))
		}
		if e.Line != "" {
			msg += " (" + e.Line + ")"
		}
		if e.Error != "" {
			msg += ": " + e.Error
		}
		fmt.Fprintln(p.w, msg)
	}
}

func (p *Plain) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// JSON writes every event as one JSON object per line.
type JSON struct {
	mu     sync.Mutex
	enc    *json.Encoder
	closed bool
}

func NewJSON(w io.Writer) *JSON { return &JSON{enc: json.NewEncoder(w)} }

func (j *JSON) Event(e Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.closed {
		_ = j.enc.Encode(e)
	}
}

func (j *JSON) Close() {
	j.mu.Lock()
	j.closed = true
	j.mu.Unlock()
}

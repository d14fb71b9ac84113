// Package progress shows a run as it happens: a live view on a terminal,
// [service]-prefixed lines elsewhere, JSON lines for machines, or nothing.
package progress

import (
	"bytes"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// State is where a service is in the run.
type State string

const (
	Queued   State = "queued"
	Waiting  State = "waiting" // for a build slot
	Building State = "building"
	Loading  State = "loading"
	Loaded   State = "loaded"
	Pushing  State = "pushing"
	Pushed   State = "pushed"
	Built    State = "built"
	Reused   State = "reused"
	// ReusedRegistry: found in the registry by its input digest.
	ReusedRegistry State = "reused (registry)"
	Failed         State = "failed"
	Cancelled      State = "cancelled"
	Skipped        State = "skipped"
	Log            State = "log" // a log line, not a change of state
)

// Final reports whether s ends a service's part in the run.
func (s State) Final() bool {
	switch s {
	case Built, Reused, ReusedRegistry, Loaded, Pushed, Failed, Cancelled, Skipped:
		return true
	}
	return false
}

// Event is one thing that happened to a service.
type Event struct {
	Time    time.Time `json:"time"`
	Service string    `json:"service"`
	State   State     `json:"state"`
	Line    string    `json:"line,omitempty"`
	Ref     string    `json:"ref,omitempty"`
	Error   string    `json:"error,omitempty"`
}

// Reporter receives events; implementations are safe for concurrent use.
type Reporter interface {
	Event(Event)
	// Close stops any live drawing; the reporter takes no events after it.
	Close()
}

// Nop discards events.
type Nop struct{}

func (Nop) Event(Event) {}
func (Nop) Close()      {}

// LineWriter turns a service's log stream into Log events, one per line.
type LineWriter struct {
	Service  string
	Reporter Reporter

	mu  sync.Mutex
	buf []byte
}

func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(bytes.TrimRight(w.buf[:i], "\r"))
		w.buf = w.buf[i+1:]
		w.Reporter.Event(Event{Time: time.Now(), Service: w.Service, State: Log, Line: line})
	}
	return len(p), nil
}

// Tail keeps the last N lines written to it, for error reports.
type Tail struct {
	N int

	mu    sync.Mutex
	lines []string
	part  []byte
}

func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, string(bytes.TrimRight(t.part[:i], "\r")))
		t.part = t.part[i+1:]
		if len(t.lines) > t.N {
			t.lines = t.lines[len(t.lines)-t.N:]
		}
	}
	return len(p), nil
}

// Lines returns the kept lines, the unfinished last one included.
func (t *Tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string{}, t.lines...)
	if len(t.part) > 0 {
		out = append(out, string(t.part))
	}
	if len(out) > t.N {
		out = out[len(out)-t.N:]
	}
	return out
}

// New returns the reporter for mode: "tty", "plain", "json", "quiet", or
// "auto": the live view when isTerminal and the environment allows it (see
// UseTTY), else plain lines.
func New(mode string, w io.Writer, isTerminal bool) Reporter {
	return NewEnv(mode, w, isTerminal, os.Getenv)
}

// NewEnv is New with the environment read through getenv.
func NewEnv(mode string, w io.Writer, isTerminal bool, getenv func(string) string) Reporter {
	switch mode {
	case "quiet":
		return Nop{}
	case "json":
		return NewJSON(w)
	case "tty":
		return NewTTY(w, WithColor(UseColor(getenv)))
	case "plain":
		return NewPlain(w)
	}
	if UseTTY(isTerminal, getenv) {
		return NewTTY(w, WithColor(UseColor(getenv)))
	}
	return NewPlain(w)
}

// Auto is the reporter for "auto" on w: the live view when w is a terminal
// that can redraw, else plain lines.
func Auto(w io.Writer, getenv func(string) string) Reporter {
	return NewEnv("auto", w, IsTerminal(w), getenv)
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// UseTTY decides "auto": the live view needs a terminal that can move its
// cursor, so TERM=dumb (Emacs shells, some CI runners that fake a
// terminal) and an unset TERM get plain lines.
func UseTTY(isTerminal bool, getenv func(string) string) bool {
	t := getenv("TERM")
	return isTerminal && t != "" && t != "dumb"
}

// UseColor honours NO_COLOR (https://no-color.org): any non-empty value
// turns colour off; so does TERM=dumb.
func UseColor(getenv func(string) string) bool {
	return getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
}

package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// TTY redraws one line per service in place: state, elapsed time and the
// latest log line.
type TTY struct {
	mu    sync.Mutex
	w     io.Writer
	order []string
	rows  map[string]*row
	drawn int
	stop  chan struct{}
	done  chan struct{}
}

type row struct {
	state State
	start time.Time
	end   time.Time
	last  string
	ref   string
}

func NewTTY(w io.Writer) *TTY {
	t := &TTY{w: w, rows: map[string]*row{}, stop: make(chan struct{}), done: make(chan struct{})}
	go t.loop()
	return t
}

func (t *TTY) Event(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.rows[e.Service]
	if !ok {
		r = &row{state: Queued}
		t.rows[e.Service] = r
		t.order = append(t.order, e.Service)
	}
	switch {
	case e.State == Log:
		r.last = e.Line
	case e.State == Building || e.State == Loading || e.State == Pushing:
		r.state, r.start, r.ref = e.State, e.Time, e.Ref
	default:
		r.state = e.State
		if e.Ref != "" {
			r.ref = e.Ref
		}
		if e.State.Final() {
			r.end = e.Time
			r.last = e.Error
		}
	}
}

func (t *TTY) loop() {
	defer close(t.done)
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			t.draw()
			return
		case <-tick.C:
			t.draw()
		}
	}
}

func (t *TTY) draw() {
	t.mu.Lock()
	defer t.mu.Unlock()
	width := 100
	if f, ok := t.w.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 20 {
			width = w
		}
	}
	nameW := 0
	for _, n := range t.order {
		nameW = max(nameW, len(n))
	}
	var b strings.Builder
	if t.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", t.drawn)
	}
	now := time.Now()
	for _, n := range t.order {
		r := t.rows[n]
		el := ""
		if !r.start.IsZero() {
			end := now
			if !r.end.IsZero() {
				end = r.end
			}
			el = fmt.Sprintf("%5.1fs", end.Sub(r.start).Seconds())
		}
		detail := r.last
		if r.state.Final() && r.state != Failed {
			detail = r.ref
		}
		line := fmt.Sprintf("%s %-*s  %-9s %7s  %s", mark(r.state), nameW, n, r.state, el, detail)
		if len(line) > width-1 {
			line = line[:width-1]
		}
		b.WriteString("\x1b[2K" + line + "\n")
	}
	t.drawn = len(t.order)
	io.WriteString(t.w, b.String())
}

func mark(s State) string {
	switch s {
	case Built, Reused:
		return "✔"
	case Failed:
		return "✖"
	case Cancelled, Skipped:
		return "-"
	case Building, Loading, Pushing:
		return "●"
	}
	return "·"
}

func (t *TTY) Close() {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	<-t.done
}

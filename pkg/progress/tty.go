package progress

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// TTY redraws a live view in place: a header with how many services are
// done, how many failed and the time since the run started, then one row
// per service (state, elapsed time, latest log line). The view never grows
// taller than the terminal, which would scroll it and break the redraw:
// when the rows do not fit, finished services collapse into one summary
// line, and what still does not fit is counted on a last line. Every line
// is cut to the terminal's width in display cells, never inside a
// character.
type TTY struct {
	mu    sync.Mutex
	w     io.Writer
	opt   ttyOptions
	start time.Time
	order []string
	rows  map[string]*row
	drawn int // lines the last frame left on screen, the cursor below them
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

type ttyOptions struct {
	size     func() (cols, lines int)
	color    bool
	now      func() time.Time
	interval time.Duration
}

// TTYOption changes how a TTY draws.
type TTYOption func(*ttyOptions)

// WithSize sets how the TTY learns the terminal's size (columns, lines),
// asked before every frame; by default the size of the terminal w is, else
// $COLUMNS x $LINES, else 80x24.
func WithSize(size func() (cols, lines int)) TTYOption {
	return func(o *ttyOptions) { o.size = size }
}

// WithColor colours the state marks (off by default; Auto turns it on for
// a terminal unless NO_COLOR is set).
func WithColor(on bool) TTYOption { return func(o *ttyOptions) { o.color = on } }

// WithClock sets the clock the elapsed times are read from, for tests.
func WithClock(now func() time.Time) TTYOption { return func(o *ttyOptions) { o.now = now } }

// WithInterval sets how often the view is redrawn (150ms by default).
func WithInterval(d time.Duration) TTYOption { return func(o *ttyOptions) { o.interval = d } }

// NewTTY starts drawing to w; Close stops it after a last frame.
func NewTTY(w io.Writer, opts ...TTYOption) *TTY {
	o := ttyOptions{now: time.Now, interval: 150 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	if o.size == nil {
		o.size = terminalSize(w)
	}
	t := &TTY{w: w, opt: o, start: o.now(), rows: map[string]*row{}, stop: make(chan struct{}), done: make(chan struct{})}
	go t.loop()
	return t
}

// terminalSize asks the terminal behind w for its size.
func terminalSize(w io.Writer) func() (int, int) {
	return func() (int, int) {
		if f, ok := w.(*os.File); ok {
			if c, l, err := term.GetSize(int(f.Fd())); err == nil && c > 0 && l > 0 {
				return c, l
			}
		}
		c, l := 80, 24
		fmt.Sscan(os.Getenv("COLUMNS"), &c)
		fmt.Sscan(os.Getenv("LINES"), &l)
		return c, l
	}
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
	tick := time.NewTicker(t.opt.interval)
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

// Smallest view drawn: narrower or shorter terminals get it anyway (and
// may wrap or scroll), as nothing smaller is readable.
const (
	minCols  = 20
	minLines = 3
)

func (t *TTY) draw() {
	t.mu.Lock()
	defer t.mu.Unlock()
	cols, lines := t.opt.size()
	cols, lines = max(cols, minCols), max(lines, minLines)
	// The last cell of a line and the terminal's last line stay empty: a
	// full-width line wraps on some terminals, and a frame as tall as the
	// screen scrolls it, and either breaks the next redraw.
	frame := t.frame(t.opt.now(), cols-1, lines-1)
	var b strings.Builder
	if t.drawn > 0 {
		fmt.Fprintf(&b, "\r\x1b[%dA", t.drawn)
	}
	for _, l := range frame {
		b.WriteString("\x1b[2K" + l + "\n")
	}
	// A shorter frame than the last leaves old lines below: clear them.
	if len(frame) < t.drawn {
		b.WriteString("\x1b[J")
	}
	t.drawn = len(frame)
	io.WriteString(t.w, b.String())
}

// frame is the view as at most height lines of at most width cells.
func (t *TTY) frame(now time.Time, width, height int) []string {
	var done, failed, running int
	byState := map[State]int{}
	for _, n := range t.order {
		r := t.rows[n]
		byState[r.state]++
		switch {
		case r.state == Failed:
			failed++
			done++
		case r.state.Final():
			done++
		case active(r.state):
			running++
		}
	}
	head := fmt.Sprintf("slipway  %d/%d done", done, len(t.order))
	if failed > 0 {
		head += fmt.Sprintf(", %d failed", failed)
	}
	if running > 0 {
		head += fmt.Sprintf(", %d running", running)
	}
	head += "  " + clock(now.Sub(t.start))
	out := []string{Truncate(head, width)}

	nameW := 0
	for _, n := range t.order {
		nameW = max(nameW, Width(sanitize(n)))
	}
	nameW = min(nameW, max(8, width/3))
	show := t.order
	var summary []string
	hidden := 0
	if 1+len(t.order) > height {
		// Collapse what finished well into one line; keep failures,
		// running services first, then those still waiting, in the
		// order the config declares them.
		var ok, rest []string
		for _, n := range t.order {
			if s := t.rows[n].state; s.Final() && s != Failed {
				ok = append(ok, n)
			} else {
				rest = append(rest, n)
			}
		}
		room := height - 1
		if len(ok) > 0 {
			summary = append(summary, t.summaryLine(ok, byState, width))
			room--
		}
		if len(rest) > room {
			hidden = len(rest) - (room - 1)
			rest = pick(rest, room-1, func(n string) int { return priority(t.rows[n].state) })
		}
		show = rest
	}
	out = append(out, summary...)
	for _, n := range show {
		out = append(out, t.rowLine(n, now, nameW, width))
	}
	if hidden > 0 {
		out = append(out, Truncate(fmt.Sprintf("  … and %d more not started", hidden), width))
	}
	if len(out) > height {
		out = out[:height]
	}
	return out
}

func (t *TTY) summaryLine(ok []string, byState map[State]int, width int) string {
	var parts []string
	for _, s := range []State{Built, Reused, ReusedRegistry, Loaded, Pushed, Cancelled, Skipped} {
		if byState[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", byState[s], s))
		}
	}
	line := fmt.Sprintf("%d finished (%s): %s", len(ok), strings.Join(parts, ", "), strings.Join(sanitizeAll(ok), " "))
	return t.paint(Built, mark(Built)) + " " + Truncate(line, width-2)
}

func (t *TTY) rowLine(n string, now time.Time, nameW, width int) string {
	r := t.rows[n]
	el := ""
	if !r.start.IsZero() {
		end := now
		if !r.end.IsZero() {
			end = r.end
		}
		el = clock(end.Sub(r.start))
	}
	detail := r.last
	if r.state.Final() && r.state != Failed {
		detail = r.ref
	}
	line := fmt.Sprintf("%s  %-9s %7s  %s", Pad(Truncate(sanitize(n), nameW), nameW), r.state, el, sanitize(detail))
	return t.paint(r.state, mark(r.state)) + " " + strings.TrimRight(Truncate(line, width-2), " ")
}

// paint colours a mark for state, when colour is on.
func (t *TTY) paint(s State, m string) string {
	if !t.opt.color {
		return m
	}
	code := ""
	switch {
	case s == Failed:
		code = "31"
	case s.Final() && s != Cancelled && s != Skipped:
		code = "32"
	case active(s):
		code = "33"
	}
	if code == "" {
		return m
	}
	return "\x1b[" + code + "m" + m + "\x1b[0m"
}

func active(s State) bool { return s == Building || s == Loading || s == Pushing }

// priority orders rows for the room left: running, failed, waiting, queued.
func priority(s State) int {
	switch {
	case active(s):
		return 0
	case s == Failed:
		return 1
	case s == Waiting:
		return 2
	}
	return 3
}

// pick keeps the n names of lowest rank, in their original order.
func pick(names []string, n int, rank func(string) int) []string {
	if n <= 0 {
		return nil
	}
	idx := make([]int, len(names))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return rank(names[idx[a]]) < rank(names[idx[b]]) })
	idx = idx[:min(n, len(idx))]
	sort.Ints(idx)
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = names[j]
	}
	return out
}

// clock formats an elapsed time: 7.3s, 1m02s.
func clock(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

func mark(s State) string {
	switch s {
	case Built, Reused, ReusedRegistry, Loaded, Pushed:
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

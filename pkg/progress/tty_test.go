package progress

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// A fleet taller than the terminal fits it: a header, finished services in
// one summary line, running ones as rows, the rest counted, and no line
// wider than the terminal.
func TestFrameFitsTheTerminal(t *testing.T) {
	start := time.Unix(1000, 0)
	now := start.Add(7300 * time.Millisecond)
	tt := &TTY{opt: ttyOptions{now: func() time.Time { return now }}, start: start, rows: map[string]*row{}}
	for i := range 20 {
		s := fmt.Sprintf("service-%02d", i)
		tt.Event(Event{Time: start, Service: s, State: Queued})
		switch {
		case i < 8:
			tt.Event(Event{Time: start, Service: s, State: Building})
			tt.Event(Event{Time: start.Add(time.Second), Service: s, State: Built, Ref: "localhost/demo-" + s + ":" + strings.Repeat("x", 60)})
		case i == 8:
			tt.Event(Event{Time: start, Service: s, State: Building})
			tt.Event(Event{Time: start.Add(time.Second), Service: s, State: Failed, Error: "exit code 1"})
		case i < 12:
			tt.Event(Event{Time: start, Service: s, State: Building})
			tt.Event(Event{Time: now, Service: s, State: Log, Line: "#5 [2/3] RUN 日本語のログ行がとても長くて端末の幅を超えてしまう場合でも文字の途中で切らない\x1b[31m red"})
		}
	}
	frame := tt.frame(now, 79, 11)
	if len(frame) > 11 {
		t.Fatalf("%d lines for 11:\n%s", len(frame), strings.Join(frame, "\n"))
	}
	for _, l := range frame {
		if w := Width(l); w > 79 || !utf8.ValidString(l) || strings.Contains(l, "\x1b") {
			t.Errorf("line of %d cells (or broken): %q", w, l)
		}
	}
	all := strings.Join(frame, "\n")
	for _, want := range []string{"slipway  9/20 done, 1 failed, 3 running  7.3s", "✔ 8 finished (8 built): service-00 service-01", "✖ service-08", "● service-09", "… and"} {
		if !strings.Contains(all, want) {
			t.Errorf("frame lacks %q:\n%s", want, all)
		}
	}
	// Room for everyone: one row each, nothing collapsed.
	if frame := tt.frame(now, 200, 40); len(frame) != 21 || strings.Contains(strings.Join(frame, "\n"), "finished") {
		t.Errorf("tall terminal:\n%s", strings.Join(frame, "\n"))
	}
	// The smallest terminal still gets a frame within its size.
	for h := 1; h < 12; h++ {
		if frame := tt.frame(now, 30, h); len(frame) > h {
			t.Errorf("height %d: %d lines", h, len(frame))
		}
	}
}

// Redrawing moves up exactly the lines the last frame drew and never draws
// more than the terminal holds less one.
func TestRedrawStaysOnScreen(t *testing.T) {
	var b bytes.Buffer
	tt := NewTTY(&b, WithSize(func() (int, int) { return 40, 6 }), WithInterval(time.Hour))
	for i := range 10 {
		tt.Event(Event{Time: time.Now(), Service: fmt.Sprintf("s%d", i), State: Queued})
		tt.draw()
	}
	tt.Close()
	up := regexp.MustCompile(`\x1b\[(\d+)A`)
	frames := strings.Split(b.String(), "\r")
	prev := 0
	for i, f := range frames {
		if f == "" {
			continue
		}
		lines := strings.Count(f, "\n")
		if lines > 5 {
			t.Fatalf("frame %d has %d lines for a 6-line terminal", i, lines)
		}
		if m := up.FindStringSubmatch(f); m != nil && m[1] != fmt.Sprint(prev) {
			t.Fatalf("frame %d moves up %s lines, the last drew %d", i, m[1], prev)
		}
		prev = lines
	}
}

func TestTruncateByDisplayWidth(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello world", 6, "hello…"},
		{"日本語テキスト", 5, "日本…"},
		{"日本語テキスト", 6, "日本…"},
		{"cafe\u0301 au lait", 5, "cafe\u0301…"},
		{"🚀 launch", 4, "🚀 …"},
		{"abc", 0, ""},
	}
	for _, c := range cases {
		got := Truncate(c.in, c.max)
		if got != c.want || Width(got) > c.max || !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q (%d cells), want %q", c.in, c.max, got, Width(got), c.want)
		}
	}
	if Width("日本") != 4 || Width("e\u0301") != 1 || Width("a\u200db") != 2 {
		t.Error("Width")
	}
}

func TestSanitize(t *testing.T) {
	if got := sanitize("\x1b[1;31mred\x1b[0m\ttab\x07\x1b]0;title\x07 ok"); got != "red tab ok" {
		t.Errorf("%q", got)
	}
}

// auto picks the live view only for a terminal that can redraw; colour
// follows NO_COLOR.
func TestAutoChoosesByEnvironment(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	cases := []struct {
		term bool
		env  func(string) string
		tty  bool
	}{
		{true, env("TERM", "xterm-256color"), true},
		{true, env("TERM", "dumb"), false},
		{true, env(), false},
		{false, env("TERM", "xterm"), false},
	}
	for i, c := range cases {
		r := NewEnv("auto", &bytes.Buffer{}, c.term, c.env)
		_, isTTY := r.(*TTY)
		r.Close()
		if isTTY != c.tty {
			t.Errorf("case %d: tty %v, want %v", i, isTTY, c.tty)
		}
	}
	if _, ok := Auto(&bytes.Buffer{}, env("TERM", "xterm")).(*Plain); !ok {
		t.Error("Auto on a buffer is not plain")
	}
	if UseColor(env("TERM", "xterm", "NO_COLOR", "1")) || !UseColor(env("TERM", "xterm")) || UseColor(env("TERM", "dumb")) {
		t.Error("UseColor")
	}
	var b bytes.Buffer
	tt := NewTTY(&b, WithColor(false), WithSize(func() (int, int) { return 80, 10 }))
	tt.Event(Event{Time: time.Now(), Service: "a", State: Building})
	tt.Close()
	if strings.Contains(b.String(), "\x1b[3") {
		t.Errorf("colour without WithColor: %q", b.String())
	}
}

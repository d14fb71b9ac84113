package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestTailKeepsLastLines(t *testing.T) {
	tl := &Tail{N: 3}
	tl.Write([]byte("one\ntwo\nthr"))
	tl.Write([]byte("ee\nfour\nfive"))
	if got := strings.Join(tl.Lines(), ","); got != "three,four,five" {
		t.Fatalf("got %s", got)
	}
}

func TestPlainPrefixesEveryLine(t *testing.T) {
	var b bytes.Buffer
	p := NewPlain(&b)
	w := &LineWriter{Service: "api", Reporter: p}
	now := time.Now()
	p.Event(Event{Time: now, Service: "api", State: Building, Ref: "x:1"})
	w.Write([]byte("step 1\nstep"))
	w.Write([]byte(" 2\n"))
	p.Event(Event{Time: now.Add(time.Second), Service: "api", State: Built, Ref: "x:1"})
	p.Close()
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if !strings.HasPrefix(l, "[api] ") {
			t.Fatalf("unprefixed line %q in\n%s", l, b.String())
		}
	}
	if !strings.Contains(b.String(), "[api] step 2") || !strings.Contains(b.String(), "built x:1 in 1s") {
		t.Fatalf("output:\n%s", b.String())
	}
}

func TestTTYDrawsOneRowPerService(t *testing.T) {
	var b bytes.Buffer
	tt := NewTTY(&b)
	tt.Event(Event{Time: time.Now(), Service: "a", State: Building})
	tt.Event(Event{Time: time.Now(), Service: "b", State: Queued})
	tt.Event(Event{Time: time.Now(), Service: "a", State: Log, Line: "compiling"})
	tt.Close()
	out := b.String()
	if !strings.Contains(out, "compiling") || !strings.Contains(out, "queued") {
		t.Fatalf("view:\n%q", out)
	}
}

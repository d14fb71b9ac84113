package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway"
)

func TestHumanSizeAndAge(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 512: "512B", 1536: "1.5KiB", 123456789: "117.7MiB", 3 << 30: "3GiB"} {
		if got := human(n); got != want {
			t.Errorf("human(%d) = %q, want %q", n, got, want)
		}
	}
	now := time.Unix(1_700_000_000, 0)
	for d, want := range map[time.Duration]string{
		30 * time.Second: "30 seconds",
		90 * time.Minute: "2 hours",
		72 * time.Hour:   "3 days",
	} {
		if got := age(now.Add(-d), now); got != want {
			t.Errorf("age(%v ago) = %q, want %q", d, got, want)
		}
	}
	if got := age(time.Time{}, now); got != "-" {
		t.Errorf("unknown age = %q, want -", got)
	}
}

func TestPrintCopiesTotals(t *testing.T) {
	var b bytes.Buffer
	PrintCopies(&b, []slipway.Copy{
		{Place: "engine", Service: "api", User: "jane", Run: "r1", Ref: "p/api:t1", Size: 1 << 20, Tagged: time.Now().Add(-time.Hour)},
		{Place: "engine", Service: "web", User: "jane", Run: "r1", Ref: "p/web:t1", Size: 1 << 20},
	})
	out := b.String()
	for _, want := range []string{"About an hour", "1MiB", "total engine: 2 images, 2MiB"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

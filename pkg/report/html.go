package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"time"

	"github.com/docker/go-units"
)

//go:embed report.html.tmpl
var pageText string

// page is parsed once; its CSS and JS are inline so the file needs nothing
// from the network.
var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":    func(d time.Duration) int64 { return d.Round(time.Millisecond).Milliseconds() },
	"dur":   fmtDur,
	"bytes": func(n int64) string { return units.BytesSize(float64(n)) },
	"x":     func(f float64) string { return fmt.Sprintf("%.2f×", f) },
}).Parse(pageText))

// view is what the template sees: the model plus its scale.
type view struct {
	*Model
	Ticks []tick
}

type tick struct {
	Left  float64
	Label string
}

// WriteHTML renders m as one self-contained HTML page.
func (m *Model) WriteHTML(w io.Writer) error {
	v := view{Model: m}
	step := tickStep(m.Wall)
	for t := time.Duration(0); t <= m.Wall && step > 0; t += step {
		v.Ticks = append(v.Ticks, tick{Left: m.Pct(t), Label: fmtDur(t)})
	}
	if err := page.Execute(w, v); err != nil {
		return fmt.Errorf("rendering the report: %w", err)
	}
	return nil
}

// Pct is d as a percentage of the wall time, the timeline's scale.
func (m *Model) Pct(d time.Duration) float64 {
	if m.Wall <= 0 {
		return 0
	}
	p := float64(d) / float64(m.Wall) * 100
	return math.Round(math.Max(0, math.Min(100, p))*1000) / 1000
}

// tickStep picks a round interval giving about ten ticks over wall.
func tickStep(wall time.Duration) time.Duration {
	for _, s := range []time.Duration{
		10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
		500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
		15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	} {
		if wall/s <= 10 {
			return s
		}
	}
	return wall / 10
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

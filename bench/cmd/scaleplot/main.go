// Command scaleplot draws bench/scale.sh's wall times against N, one line
// per method, cold and warm side by side, as an SVG (render it to PNG with
// a headless browser: bench/scale-plot.sh). The input is
// `bench/summarize-scale.sh -csv results.jsonl`.
//
//	scaleplot -in scale.csv -out scale.svg
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

type point struct {
	n              float64
	mean, lo, hi   float64
	okRuns, allRun int
}

func main() {
	in := flag.String("in", "", "CSV from summarize-scale.sh -csv")
	out := flag.String("out", "scale.svg", "SVG to write")
	title := flag.String("title", "N tiny services: wall time against N", "title")
	flag.Parse()
	if err := run(*in, *out, *title); err != nil {
		fmt.Fprintln(os.Stderr, "scaleplot:", err)
		os.Exit(1)
	}
}

func run(in, out, title string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("reading %s: %w", in, err)
	}
	// phase -> method -> points
	data := map[string]map[string][]point{}
	for _, r := range rows[1:] {
		if len(r) < 8 {
			continue
		}
		n, _ := strconv.ParseFloat(r[2], 64)
		p := point{n: n}
		p.okRuns, _ = strconv.Atoi(r[6])
		p.allRun, _ = strconv.Atoi(r[7])
		if r[3] == "" {
			p.mean = math.NaN() // no successful run: drawn as a cross at the axis
		} else {
			p.mean, _ = strconv.ParseFloat(r[3], 64)
			p.lo, _ = strconv.ParseFloat(r[4], 64)
			p.hi, _ = strconv.ParseFloat(r[5], 64)
		}
		if data[r[0]] == nil {
			data[r[0]] = map[string][]point{}
		}
		data[r[0]][r[1]] = append(data[r[0]][r[1]], p)
	}
	var b strings.Builder
	const W, H = 1100, 480
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="DejaVu Sans, sans-serif" font-size="13">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="24" font-size="16" text-anchor="middle">%s</text>`+"\n", W/2, esc(title))
	colors := map[string]string{"bake": "#d62728", "slipway": "#1f77b4", "slipway-j0": "#2ca02c", "slipway-cli": "#7f7f7f"}
	names := map[string]string{"bake": "docker buildx bake", "slipway": "slipway (direct BuildKit, default jobs)",
		"slipway-j0": "slipway --jobs 0 (direct BuildKit)", "slipway-cli": "slipway, CLI builder (before)"}
	for i, phase := range []string{"cold", "warm"} {
		panel(&b, data[phase], phase, 70+float64(i)*540, 50, 440, 330, colors)
	}
	// Legend.
	y := 430.0
	x := 70.0
	for _, m := range []string{"bake", "slipway", "slipway-j0", "slipway-cli"} {
		if !hasMethod(data, m) {
			continue
		}
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="3"/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			x, y, x+24, y, colors[m], x+30, y+4, esc(names[m]))
		x += 290
	}
	fmt.Fprintf(&b, `<text x="70" y="462" fill="#555">Points: mean of the rounds; bars: min–max. A cross on the axis: no run of that method completed at that N.</text>`+"\n")
	b.WriteString("</svg>\n")
	return os.WriteFile(out, []byte(b.String()), 0o644)
}

func hasMethod(data map[string]map[string][]point, m string) bool {
	for _, ms := range data {
		if len(ms[m]) > 0 {
			return true
		}
	}
	return false
}

func panel(b *strings.Builder, ms map[string][]point, phase string, x0, y0, w, h float64, colors map[string]string) {
	maxN, maxY := 0.0, 0.0
	for _, ps := range ms {
		for _, p := range ps {
			maxN = math.Max(maxN, p.n)
			if !math.IsNaN(p.mean) {
				maxY = math.Max(maxY, math.Max(p.hi, p.mean))
			}
		}
	}
	if maxN == 0 {
		return
	}
	maxY = niceCeil(maxY)
	sx := func(n float64) float64 { return x0 + n/maxN*w }
	sy := func(v float64) float64 { return y0 + h - v/maxY*h }
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" font-size="14" text-anchor="middle">%s</text>`+"\n", x0+w/2, y0-6, phase)
	fmt.Fprintf(b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", x0, y0, w, h)
	for i := 0; i <= 5; i++ {
		v := maxY * float64(i) / 5
		fmt.Fprintf(b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#eee"/><text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n",
			x0, sy(v), x0+w, sy(v), x0-6, sy(v)+4, strconv.FormatFloat(v, 'g', 4, 64))
	}
	var ns []float64
	for _, ps := range ms {
		for _, p := range ps {
			if !slices.Contains(ns, p.n) {
				ns = append(ns, p.n)
			}
		}
	}
	for _, n := range ns {
		fmt.Fprintf(b, `<text x="%.1f" y="%.0f" text-anchor="middle">%g</text>`+"\n", sx(n), y0+h+18, n)
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" text-anchor="middle">services (N)</text>`+"\n", x0+w/2, y0+h+36)
	fmt.Fprintf(b, `<text transform="translate(%.0f,%.0f) rotate(-90)" text-anchor="middle">wall time, s</text>`+"\n", x0-44, y0+h/2)
	for _, m := range []string{"bake", "slipway-cli", "slipway-j0", "slipway"} {
		ps := slices.Clone(ms[m])
		if len(ps) == 0 {
			continue
		}
		slices.SortFunc(ps, func(a, c point) int { return int(a.n - c.n) })
		c := colors[m]
		var path []string
		for _, p := range ps {
			if math.IsNaN(p.mean) {
				x, y := sx(p.n), sy(0)
				fmt.Fprintf(b, `<path d="M%.1f %.1f l8 -8 m-16 0 l8 8 l-8 8 m16 0 l-8 -8" stroke="%s" stroke-width="2.5" fill="none"/>`+"\n", x, y, c)
				continue
			}
			path = append(path, fmt.Sprintf("%.1f,%.1f", sx(p.n), sy(p.mean)))
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", sx(p.n), sy(p.lo), sx(p.n), sy(p.hi), c)
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", sx(p.n), sy(p.mean), c)
		}
		if len(path) > 1 {
			fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(path, " "), c)
		}
	}
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

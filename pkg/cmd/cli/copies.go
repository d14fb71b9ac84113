package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/slipway-dev/slipway"
)

// PrintRemoval reports what a clean or prune removed and kept.
func PrintRemoval(w io.Writer, r *slipway.Removal) {
	verb := "removed"
	if r.DryRun {
		verb = "would remove"
	}
	for _, c := range r.Removed {
		fmt.Fprintf(w, "%s %s\n", verb, c)
	}
	for _, c := range r.Kept {
		fmt.Fprintf(w, "kept (in use by a container) %s\n", c)
	}
	fmt.Fprintf(w, "%d %s, %d kept in use\n", len(r.Removed), verb, len(r.Kept))
	for _, id := range r.Runs {
		fmt.Fprintf(w, "%s run folder %s\n", verb, id)
	}
	if r.Reservations > 0 {
		fmt.Fprintf(w, "removed %d stale tag reservations\n", r.Reservations)
	}
}

// PrintCopies is the `slipway ls` table with per-place totals.
func PrintCopies(w io.Writer, cs []slipway.Copy) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLACE\tSERVICE\tUSER\tRUN\tAGE\tSIZE\tIMAGE")
	type total struct {
		n    int
		size int64
	}
	totals := map[string]*total{}
	var order []string
	for _, c := range cs {
		age := "-"
		// The name's age, as prune counts it.
		if !c.Tagged.IsZero() {
			age = time.Since(c.Tagged).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Place, c.Service, c.User, c.Run, age, human(c.Size), c.Ref)
		t := totals[c.Place]
		if t == nil {
			t = &total{}
			totals[c.Place] = t
			order = append(order, c.Place)
		}
		t.n++
		t.size += c.Size
	}
	tw.Flush()
	for _, p := range order {
		fmt.Fprintf(w, "total %s: %d images, %s\n", p, totals[p].n, human(totals[p].size))
	}
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

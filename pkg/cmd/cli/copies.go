package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"

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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Place, c.Service, c.User, c.Run, age(c.Tagged, time.Now()), human(c.Size), c.Ref)
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

// age is how long ago the image got its name, as prune counts it, in
// docker's words ("3 days"); "-" when that is not known.
func age(tagged, now time.Time) string {
	if tagged.IsZero() {
		return "-"
	}
	return units.HumanDuration(now.Sub(tagged))
}

// human is a size in binary units, as `docker images` prints it ("117.7MiB").
func human(n int64) string {
	return units.BytesSize(float64(n))
}

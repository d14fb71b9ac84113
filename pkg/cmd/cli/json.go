package cli

import (
	"time"

	"github.com/slipway-dev/slipway"
)

// The -o json shapes of the library's listing types, in the snake_case of
// the run record and the metadata file, so that scripts see one style.

// CopyJSON is one image name in one place (ls, clean, prune).
type CopyJSON struct {
	Place   string     `json:"place"`
	Ref     string     `json:"ref"`
	ID      string     `json:"id"`
	Service string     `json:"service"`
	User    string     `json:"user"`
	Run     string     `json:"run"`
	Project string     `json:"project"`
	Created *time.Time `json:"created,omitempty"`
	Tagged  *time.Time `json:"tagged,omitempty"`
	Size    int64      `json:"size"`
	InUse   bool       `json:"in_use"`
}

// CopiesJSON converts copies, never to null.
func CopiesJSON(cs []slipway.Copy) []CopyJSON {
	out := make([]CopyJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, CopyJSON{Place: c.Place, Ref: c.Ref, ID: c.ID, Service: c.Service, User: c.User, Run: c.Run,
			Project: c.Project, Created: timeOrNil(c.Created), Tagged: timeOrNil(c.Tagged), Size: c.Size, InUse: c.InUse})
	}
	return out
}

// RemovalJSONDoc is what a clean or prune removed (dry: would remove).
type RemovalJSONDoc struct {
	Run          string     `json:"run,omitempty"`
	DryRun       bool       `json:"dry_run"`
	Removed      []CopyJSON `json:"removed"`
	Kept         []CopyJSON `json:"kept_in_use"`
	RunFolders   []string   `json:"run_folders"`
	Reservations int        `json:"reservations"`
}

// RemovalJSON converts a removal.
func RemovalJSON(r *slipway.Removal) RemovalJSONDoc {
	d := RemovalJSONDoc{Run: r.Run, DryRun: r.DryRun, Removed: CopiesJSON(r.Removed), Kept: CopiesJSON(r.Kept),
		RunFolders: r.Runs, Reservations: r.Reservations}
	if d.RunFolders == nil {
		d.RunFolders = []string{}
	}
	return d
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

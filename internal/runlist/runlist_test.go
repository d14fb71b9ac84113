package runlist

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/fixture"
	"github.com/slipway-dev/slipway/pkg/run"
)

func TestList(t *testing.T) {
	r := fixture.New(t, "")
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour)
	// r1 built api; its name is gone from the engine (cleaned).
	r.Record("20260101T000001-aaaaaa", t0, map[string]*run.Service{
		"api": {Image: "localhost/demo-api:one", ID: "sha256:1", Status: run.Built, DurationMS: 4000},
	})
	// r2 built api and web; both names are still there.
	r.Record("20260101T000002-bbbbbb", t0.Add(time.Minute), map[string]*run.Service{
		"api": {Image: "localhost/demo-api:two", ID: "sha256:2", Status: run.Built, DurationMS: 3000},
		"web": {Image: "localhost/demo-web:two", ID: "sha256:3", Status: run.Reused, Kind: &run.KindLoad{Cluster: "e2e"}},
	})
	r.Eng.Add("sha256:2", fixture.Labels("api", "20260101T000002-bbbbbb", "localhost/demo-api:two"), "localhost/demo-api:two")
	r.Eng.Add("sha256:3", fixture.Labels("web", "20260101T000002-bbbbbb", "localhost/demo-web:two"), "localhost/demo-web:two")
	// r4's record says running, but nobody holds its lock: it died.
	died := r.Start("20260101T000000-dddddd")
	died.Close()
	// r3 is running: it holds its lock. (Runs are ordered by their
	// records' start times, which Start takes from the clock.)
	r.Start("20260101T000003-cccccc")

	rs, err := List(ctx, Options{StateDir: r.State, Engine: r.Eng})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4 {
		t.Fatalf("got %d runs, want 4: %+v", len(rs), rs)
	}
	byID := map[string]Run{}
	for _, x := range rs {
		byID[x.ID] = x
	}
	if rs[0].ID != "20260101T000003-cccccc" {
		t.Errorf("first run = %s, want the newest", rs[0].ID)
	}
	if got := byID["20260101T000003-cccccc"]; got.Status != Running || got.Cleaned {
		t.Errorf("live run = %+v", got)
	}
	if got := byID["20260101T000000-dddddd"]; got.Status != Died {
		t.Errorf("dead run status = %s, want died", got.Status)
	}
	one := byID["20260101T000001-aaaaaa"]
	if one.Status != Done || !one.Cleaned || one.Images == nil || *one.Images != 0 || one.Built != 1 {
		t.Errorf("cleaned run = %+v", one)
	}
	if one.Duration != 1000 || one.Dir != filepath.Join(r.State, "runs", one.ID) {
		t.Errorf("run duration %d ms, dir %s", one.Duration, one.Dir)
	}
	two := byID["20260101T000002-bbbbbb"]
	if two.Cleaned || two.Images == nil || *two.Images != 2 || two.Built != 1 || two.Reused != 1 {
		t.Errorf("run with images = %+v", two)
	}
	if len(two.Services) != 2 || two.Services[0] != "api" || len(two.Clusters) != 1 || two.Clusters[0] != "e2e" {
		t.Errorf("services %v clusters %v", two.Services, two.Clusters)
	}

	// Without an engine nothing is said about images.
	rs, err = List(ctx, Options{StateDir: r.State, Limit: 2, User: fixture.Me, Project: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Images != nil || rs[1].Cleaned {
		t.Errorf("offline, limited = %+v", rs)
	}
	if rs, _ := List(ctx, Options{StateDir: r.State, Project: "other"}); len(rs) != 0 {
		t.Errorf("other project's runs = %+v", rs)
	}
	if rs, err := List(ctx, Options{StateDir: filepath.Join(t.TempDir(), "none")}); err != nil || rs == nil || len(rs) != 0 {
		t.Errorf("no state folder = %v, %v; want an empty list", rs, err)
	}
}

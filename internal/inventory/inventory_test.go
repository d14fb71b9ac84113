package inventory

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/fixture"
	"github.com/slipway-dev/slipway/internal/labels"
	"github.com/slipway-dev/slipway/pkg/run"
)

// Unit tests of what a clean or prune removes, against an in-memory
// engine and real run records.

type invFixture struct{ *fixture.Repo }

func newFixture(t *testing.T, extra string) *invFixture { return &invFixture{fixture.New(t, extra)} }

func (f *invFixture) clean(id string) []string {
	f.T.Helper()
	recs, err := run.Records(f.State)
	if err != nil {
		f.T.Fatal(err)
	}
	rm, err := Clean(context.Background(), f.Eng, nil, recs, id, false)
	if err != nil {
		f.T.Fatal(err)
	}
	var out []string
	for _, c := range rm.Removed {
		out = append(out, c.Ref)
	}
	slices.Sort(out)
	return out
}

func at(t time.Time) *time.Time { return &t }

func TestCleanRemovesOnlyWhatTheRunOwns(t *testing.T) {
	f := newFixture(t, "")
	t0 := time.Now().Add(-time.Hour)
	// Run A built X; run B re-tagged X (reuse); run C borrowed CI's image;
	// runs D and E both gave the stable name; run F died before recording
	// its image's ID.
	f.Eng.Add("sha256:x", fixture.Labels("api", "20260101T000001-aaaaaa", "localhost/demo-api:a"), "localhost/demo-api:a", "localhost/demo-api:b", "localhost/demo-api:stable")
	f.Eng.Add("sha256:ci", fixture.Labels("api", "ci", "localhost/demo-api:ci"), "localhost/demo-api:ci")
	f.Eng.Add("sha256:f", fixture.Labels("api", "20260101T000006-ffffff", "localhost/demo-api:f"), "localhost/demo-api:f")
	f.Eng.Add("sha256:foreign", nil, "localhost/demo-api:g")
	f.Record("20260101T000001-aaaaaa", t0, map[string]*run.Service{"api": {Image: "localhost/demo-api:a", ID: "sha256:x", Status: run.Built}})
	f.Record("20260101T000002-bbbbbb", t0, map[string]*run.Service{"api": {Image: "localhost/demo-api:b", ID: "sha256:x", Status: run.Reused}})
	f.Record("20260101T000003-cccccc", t0, map[string]*run.Service{"api": {Image: "localhost/demo-api:ci", ID: "sha256:ci", Status: run.Reused, Borrowed: true}})
	f.Record("20260101T000004-dddddd", t0, map[string]*run.Service{"api": {Image: "localhost/demo-api:stable", ID: "sha256:x", Status: run.Reused}})
	f.Record("20260101T000005-eeeeee", t0, map[string]*run.Service{"api": {Image: "localhost/demo-api:stable", ID: "sha256:x", Status: run.Reused}})
	f.Record("20260101T000006-ffffff", t0, map[string]*run.Service{"api": {Image: "localhost/demo-api:f", Status: run.Building}})
	f.Record("20260101T000007-gggggg", t0, map[string]*run.Service{"api": {Image: "localhost/demo-api:g", Status: run.Building}})

	for _, c := range []struct {
		run  string
		want []string
	}{
		{"20260101T000002-bbbbbb", []string{"localhost/demo-api:b"}},
		{"20260101T000001-aaaaaa", []string{"localhost/demo-api:a"}}, // not B's re-tag
		{"20260101T000003-cccccc", nil},                              // borrowed
		{"20260101T000004-dddddd", nil},                              // E gave the name later
		{"20260101T000005-eeeeee", []string{"localhost/demo-api:stable"}},
		{"20260101T000006-ffffff", []string{"localhost/demo-api:f"}}, // built under that name by F
		{"20260101T000007-gggggg", nil},                              // the name is somebody else's image
	} {
		if got := f.clean(c.run); !slices.Equal(got, c.want) {
			t.Errorf("clean %s removed %v, want %v", c.run, got, c.want)
		}
	}
	if !f.Eng.Has("localhost/demo-api:ci", "sha256:ci") || !f.Eng.Has("localhost/demo-api:g", "sha256:foreign") {
		t.Error("a borrowed or foreign name was removed")
	}
}

func TestCleanKeepsImagesInUse(t *testing.T) {
	f := newFixture(t, "")
	f.Eng.Add("sha256:x", fixture.Labels("api", "20260101T000001-aaaaaa", "localhost/demo-api:a"), "localhost/demo-api:a")
	f.Eng.Use("sha256:x")
	f.Record("20260101T000001-aaaaaa", time.Now(), map[string]*run.Service{"api": {Image: "localhost/demo-api:a", ID: "sha256:x", Status: run.Built}})
	if got := f.clean("20260101T000001-aaaaaa"); len(got) != 0 || !f.Eng.Has("localhost/demo-api:a", "") {
		t.Fatalf("removed %v, an image a container uses", got)
	}
}

func TestPruneAgesNamesByTaggingAndSparesLiveRuns(t *testing.T) {
	f := newFixture(t, "")
	old, recent := time.Now().Add(-2*time.Hour), time.Now().Add(-time.Minute)
	// One image built two hours ago, named by an old run and re-tagged just
	// now by a finished run and by a run still going; bob's old image.
	f.Eng.Add("sha256:x", fixture.Labels("api", "20260101T000001-aaaaaa", "localhost/demo-api:old"), "localhost/demo-api:old", "localhost/demo-api:new", "localhost/demo-api:live")
	bob := fixture.Labels("api", "b", "localhost/demo-api:bob")
	bob[labels.User] = "bob"
	f.Eng.Add("sha256:bob", bob, "localhost/demo-api:bob")
	f.Record("20260101T000001-aaaaaa", old, map[string]*run.Service{"api": {Image: "localhost/demo-api:old", ID: "sha256:x", Status: run.Built, Tagged: at(old)}})
	f.Record("20260101T000002-bbbbbb", old, map[string]*run.Service{"api": {Image: "localhost/demo-api:new", ID: "sha256:x", Status: run.Reused, Tagged: at(recent)}})
	live := f.Start("20260101T000003-cccccc")
	if err := live.Update(func(rec *run.Record) {
		rec.Started = old
		rec.Services["api"] = &run.Service{Image: "localhost/demo-api:live", ID: "sha256:x", Status: run.Reused, Tagged: at(old)}
	}); err != nil {
		t.Fatal(err)
	}
	rm, err := Prune(context.Background(), f.Eng, nil, f.State, Policy{OlderThan: time.Hour, User: fixture.Me})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range rm.Removed {
		got = append(got, c.Ref)
	}
	if !slices.Equal(got, []string{"localhost/demo-api:old"}) {
		t.Fatalf("prune removed %v, want only the name given two hours ago", got)
	}
	if !slices.Equal(rm.Runs, []string{"20260101T000001-aaaaaa"}) {
		t.Fatalf("prune removed run folders %v, want the old run's only", rm.Runs)
	}
	if !f.Eng.Has("localhost/demo-api:bob", "") {
		t.Fatal("prune touched bob's image")
	}
	// --keep 1 keeps the newest name of the service.
	live.Close()
	rm, err = Prune(context.Background(), f.Eng, nil, f.State, Policy{OlderThan: 0, Keep: 1, User: fixture.Me})
	if err != nil || len(rm.Removed) != 1 || rm.Removed[0].Ref != "localhost/demo-api:live" {
		t.Fatalf("--keep 1 removed %v (%v)", rm.Removed, err)
	}
}

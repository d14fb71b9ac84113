package run

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Issue 10: reservations bind only while their run is live; before, one
// held for 24 h, so a stable tag template crept -2, -3… and run 101 failed.
func TestReservationBindsOnlyWhileItsRunLives(t *testing.T) {
	dir := t.TempDir()
	a, err := Start(dir, Record{Run: NewID(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := Reserve(dir, "x:stable", a.rec.Run); !ok || err != nil {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	b, err := Start(dir, Record{Run: NewID(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if ok, _ := Reserve(dir, "x:stable", b.rec.Run); ok {
		t.Fatal("a live run's claim was taken")
	}
	a.Close()
	if ok, err := Reserve(dir, "x:stable", b.rec.Run); !ok || err != nil {
		t.Fatalf("an ended run's claim still binds: %v %v", ok, err)
	}
	// A claim by a run with no folder yet binds for a grace period only.
	if ok, _ := Reserve(dir, "x:other", "20200101T000000-aaaaaa"); !ok {
		t.Fatal("claim")
	}
	if ok, _ := Reserve(dir, "x:other", b.rec.Run); ok {
		t.Fatal("a fresh claim of a run starting up was taken")
	}
	p := reservationPath(filepath.Join(dir, "reserved"), "x:other")
	old := time.Now().Add(-time.Hour)
	os.Chtimes(p, old, old)
	if ok, _ := Reserve(dir, "x:other", b.rec.Run); !ok {
		t.Fatal("an old claim of a run that never started still binds")
	}
	n, err := PruneReservations(dir, time.Now().Add(time.Minute))
	if err != nil || n != 0 {
		t.Fatalf("pruned %d claims of a live run (%v)", n, err)
	}
	b.Close()
	if n, _ := PruneReservations(dir, time.Now().Add(time.Minute)); n != 2 {
		t.Fatalf("pruned %d stale claims, want 2", n)
	}
}

// Issue 10: ownership comes from records: the newest run naming a ref owns
// it; a borrowed name is nobody's.
func TestOwnersNewestRunWinsBorrowedIsNobodys(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := []Record{
		{Run: "20260101T000002-bbbbbb", Started: t1.Add(2 * time.Second), Services: map[string]*Service{
			"a": {Image: "x:stable", ID: "sha256:2"},
			"b": {Image: "x:ci", ID: "sha256:ci", Borrowed: true},
		}},
		{Run: "20260101T000001-aaaaaa", Started: t1, Services: map[string]*Service{
			"a": {Image: "x:stable", ID: "sha256:2", Tagged: &t1},
			"c": {Image: "x:c1", ID: "sha256:c"},
		}},
	}
	o := Owners(recs)
	if o["x:stable"].Run != "20260101T000002-bbbbbb" {
		t.Errorf("x:stable owned by %s, want the newer run", o["x:stable"].Run)
	}
	if _, ok := o["x:ci"]; ok {
		t.Error("a borrowed name has an owner")
	}
	if o["x:c1"].Tagged != t1 {
		t.Errorf("tagged %v", o["x:c1"].Tagged)
	}
}

// Issue 10: listings read an index; a corrupt or truncated run.json is
// skipped, not fatal.
func TestRecordsIndexAndCorruptRecords(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		r, err := Start(dir, Record{Run: NewID(time.Now())})
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	bad := filepath.Join(dir, "runs", "20200101T000000-badbad")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "run.json"), []byte(`{"run": "2020`), 0o644)
	recs, err := Records(dir)
	if err != nil || len(recs) != 3 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if _, err := os.Stat(filepath.Join(dir, indexFile)); err != nil {
		t.Fatalf("no index written: %v", err)
	}
	// Served from the index: a record's content is not re-read while its
	// size and time are unchanged.
	again, _ := Records(dir)
	if len(again) != 3 || again[0].Run != recs[0].Run {
		t.Fatalf("second read: %+v", again)
	}
	os.WriteFile(filepath.Join(dir, indexFile), []byte("garbage"), 0o644)
	if recs, _ := Records(dir); len(recs) != 3 {
		t.Fatalf("a corrupt index lost records: %d", len(recs))
	}
}

// CI caught two runs started in the same second listed in the wrong order:
// their IDs differ only by a random part. Order (and ownership) must come
// from the times, which the records keep to the nanosecond.
func TestSameSecondRunsOrderByTime(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 27, 14, 30, 41, 100, time.UTC)
	t1 := t0.Add(time.Millisecond)
	// The later run gets the smaller random part, so ID order is wrong.
	first := Record{Run: "20261127T143041-ffffff", Started: t0, State: Done, Services: map[string]*Service{
		"a": {Image: "x:stable", ID: "sha256:1", Tagged: &t0},
	}}
	second := Record{Run: "20261127T143041-000000", Started: t1, State: Done, Services: map[string]*Service{
		"a": {Image: "x:stable", ID: "sha256:1", Tagged: &t1},
	}}
	for _, r := range []Record{first, second} {
		run, err := Start(dir, r)
		if err != nil {
			t.Fatal(err)
		}
		run.Close()
	}
	recs, err := Records(dir)
	if err != nil || len(recs) != 2 {
		t.Fatalf("records: %v %v", recs, err)
	}
	if recs[0].Run != second.Run {
		t.Errorf("newest first: got %s then %s", recs[0].Run, recs[1].Run)
	}
	if o := Owners([]Record{second, first}); o["x:stable"].Run != second.Run {
		t.Errorf("x:stable owned by %s, want the run that gave it last", o["x:stable"].Run)
	}
	if o := Owners([]Record{first, second}); o["x:stable"].Run != second.Run {
		t.Errorf("x:stable owned by %s whatever the input order", o["x:stable"].Run)
	}
}

// A name given again by a run that started earlier but tagged later (two
// runs overlapping) belongs to the one that tagged last: it is that run's
// image the name holds.
func TestOwnerIsTheRunThatGaveTheNameLast(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	late := t0.Add(time.Minute)
	early := t0.Add(30 * time.Second)
	recs := []Record{
		{Run: "20260101T000010-bbbbbb", Started: t0.Add(10 * time.Second), Services: map[string]*Service{
			"a": {Image: "x:stable", ID: "sha256:b", Tagged: &early},
		}},
		{Run: "20260101T000000-aaaaaa", Started: t0, Services: map[string]*Service{
			"a": {Image: "x:stable", ID: "sha256:a", Tagged: &late},
		}},
	}
	if o := Owners(recs); o["x:stable"].Run != "20260101T000000-aaaaaa" || o["x:stable"].ID != "sha256:a" {
		t.Errorf("x:stable: %+v, want the run that tagged it last", o["x:stable"])
	}
}

// A carried name keeps the time it was first given, so the carrying run
// ties with the giver; the later run holds it, even within one second.
func TestCarriedNameBelongsToTheLaterRun(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
	giver := Record{Run: "20261127T150000-ffffff", Started: t0, Services: map[string]*Service{
		"a": {Image: "x:1", ID: "sha256:1", Tagged: &t0},
	}}
	carrier := Record{Run: "20261127T150000-000000", Started: t0.Add(300 * time.Millisecond), Services: map[string]*Service{
		"a": {Image: "x:1", ID: "sha256:1", Tagged: &t0},
	}}
	for _, recs := range [][]Record{{giver, carrier}, {carrier, giver}} {
		if o := Owners(recs); o["x:1"].Run != carrier.Run {
			t.Errorf("x:1 owned by %s, want the carrying run", o["x:1"].Run)
		}
	}
}

package run

import (
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReserveIsExclusive(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	wins := make(chan string, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			ok, err := Reserve(dir, "localhost/x:tag", id)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins <- id
			}
		}(NewID(time.Now()))
	}
	wg.Wait()
	close(wins)
	if n := len(wins); n != 1 {
		t.Fatalf("%d runs reserved the same ref", n)
	}
	winner := <-wins
	if ok, _ := Reserve(dir, "localhost/x:tag", winner); !ok {
		t.Fatal("the holder lost its own reservation")
	}
}

func TestRunLockAndRecord(t *testing.T) {
	dir := t.TempDir()
	r, err := Start(dir, Record{Run: "20260101T000000-abcdef", Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := TryLock(r.Dir); ok {
		t.Fatal("a running run's lock was free")
	}
	r.Update(func(rec *Record) { rec.Services["a"] = &Service{Image: "x:1", Status: "built"} })
	rec, _, err := Load(dir, "20260101T000000-abcdef")
	if err != nil || rec.Services["a"].Status != "built" || rec.State != "running" {
		t.Fatalf("record %+v, %v", rec, err)
	}
	r.Close()
	release, ok, err := TryLock(r.Dir)
	if err != nil || !ok {
		t.Fatal("lock not released by Close")
	}
	release()
	if _, _, err := Load(dir, "nope"); err == nil {
		t.Fatal("unknown run loaded")
	}
	if _, _, err := Load(dir, "../../etc"); err == nil {
		t.Fatal("a path escaped the state folder")
	}
	ents, _ := os.ReadDir(r.Dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".run.json") {
			t.Fatalf("temp file left: %s", e.Name())
		}
	}
}

func TestMetadataFormats(t *testing.T) {
	rec := Record{Run: "r", Services: map[string]*Service{
		"a": {Image: "localhost/p-a:t1", Tag: "t1", ID: "sha256:aa", Status: "built"},
		"b": {Image: "localhost/p-b:t1", Tag: "t1", ID: "sha256:bb", Status: "reused", Pushed: "sha256:pp"},
		"c": {Image: "localhost/p-c:t1", Tag: "t1", Status: "failed"},
	}}
	var bake map[string]map[string]string
	b, _ := rec.Marshal("bake")
	json.Unmarshal(b, &bake)
	if len(bake) != 2 || bake["a"]["image.name"] != "localhost/p-a:t1" || bake["b"]["containerimage.digest"] != "sha256:pp" {
		t.Fatalf("bake: %s", b)
	}
	var sk struct {
		Builds []struct{ ImageName, Tag string }
	}
	b, _ = rec.Marshal("skaffold")
	json.Unmarshal(b, &sk)
	if len(sk.Builds) != 2 || sk.Builds[0].ImageName != "localhost/p-a" || sk.Builds[1].Tag != "localhost/p-b:t1@sha256:pp" {
		t.Fatalf("skaffold: %s", b)
	}
	if _, err := rec.Marshal("xml"); err == nil {
		t.Fatal("unknown format accepted")
	}
}

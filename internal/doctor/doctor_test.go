package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/pkg/slots"
)

func TestBoundingSet(t *testing.T) {
	dir := t.TempDir()
	for caps, want := range map[string]bool{
		"000001ffffffffff": true,  // everything
		"000001fffeffffff": false, // all but bit 24, as on this CI's machines
	} {
		p := filepath.Join(dir, caps)
		os.WriteFile(p, []byte("Name:\tx\nCapInh:\t0000000000000000\nCapBnd:\t"+caps+"\n"), 0o644)
		got, err := boundingHas(p, capSysResource)
		if err != nil || got != want {
			t.Errorf("CapBnd %s: %v, %v; want %v", caps, got, err, want)
		}
		r := &Report{}
		r.checkMachine(Options{ProcStatus: p})
		if want == (len(r.Problems) > 0) {
			t.Errorf("CapBnd %s: problems %+v", caps, r.Problems)
		}
		// A runtime that drops the capability is the fix: no problem then.
		r = &Report{Engine: EngineInfo{DefaultRuntime: "slipway-runc"}}
		r.checkMachine(Options{ProcStatus: p})
		if len(r.Problems) > 0 {
			t.Errorf("with slipway-runc: %+v", r.Problems)
		}
	}
	if _, err := boundingHas(filepath.Join(dir, "none"), 24); err == nil {
		t.Error("a missing status file read fine")
	}
}

func TestParseBuilders(t *testing.T) {
	out := `{"Current":true,"Driver":"docker","Name":"default","Nodes":[{"Name":"default","Platforms":["linux/amd64"],"Status":"running","Version":"v0.8+unknown"}]}
{"Current":false,"Driver":"remote","Name":"bk","Nodes":[{"Name":"bk0","Status":"error","Platforms":null}]}
not json`
	bs := parseBuilders(out)
	if len(bs) != 2 || !bs[0].Current || bs[0].BuildKit != "v0.8+unknown" || bs[0].Platforms[0] != "linux/amd64" || bs[1].Status != "error" {
		t.Fatalf("builders = %+v", bs)
	}
}

func TestStateAndSlots(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	os.MkdirAll(filepath.Join(state, "runs", "x"), 0o755)
	os.WriteFile(filepath.Join(state, "runs", "x", "run.json"), make([]byte, 1000), 0o644)
	r := &Report{}
	r.checkState(Options{StateDir: state})
	if !r.State.Writable || r.State.Bytes < 1000 || len(r.Problems) > 0 {
		t.Errorf("state = %+v, problems %+v", r.State, r.Problems)
	}
	if os.Getuid() != 0 {
		ro := filepath.Join(t.TempDir(), "ro")
		os.MkdirAll(ro, 0o555)
		r = &Report{}
		r.checkState(Options{StateDir: ro})
		if r.State.Writable || !r.Blocking() {
			t.Errorf("read-only state folder: %+v %+v", r.State, r.Problems)
		}
	}

	dir := t.TempDir()
	if err := slots.SharedDir(dir); err != nil {
		t.Fatal(err)
	}
	held, err := slots.TryLockShared(filepath.Join(dir, "slot-0"))
	if err != nil || held == nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	free, _ := slots.TryLockShared(filepath.Join(dir, "slot-1"))
	free.Unlock()
	r = &Report{}
	r.checkSlots(Options{SlotsDir: dir})
	if r.Slots.Slots != 2 || r.Slots.InUse != 1 {
		t.Errorf("slots = %+v", r.Slots)
	}
}

func TestVersion(t *testing.T) {
	v := BuildVersion()
	if v.Go == "" || v.Platform == "" || v.Version == "" { // a test binary lists no dependencies: the kind library is checked on the CLI
		t.Errorf("version = %+v", v)
	}
	s := Version{Version: "v1.2.3", Commit: "0123456789abcdef", Modified: true, Go: "go1.26", Platform: "linux/amd64"}.String()
	if s != "v1.2.3 (commit 0123456789ab+modified, go1.26, linux/amd64)" {
		t.Errorf("String = %q", s)
	}
	if !strings.HasPrefix(BuildVersion().String(), v.Version) {
		t.Error("String does not start with the version")
	}
}

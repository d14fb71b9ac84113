package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/run"
)

var t0 = time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func sp(a, b float64) *run.Span { return &run.Span{Start: at(a), End: at(b)} }

// handMade is a run: base (0–4 s) then api FROM base (slot wait, build,
// steps, loads to two nodes, done at 10 s); web reused an image an
// earlier run built in 7 s; worker built alone; bad failed with a log.
func handMade(t *testing.T) (run.Record, []run.Record) {
	logPath := filepath.Join(t.TempDir(), "bad.log")
	var log strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&log, "line %d\n", i)
	}
	log.WriteString("ERROR: <script>exit 3</script>\n")
	if err := os.WriteFile(logPath, []byte(log.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	end := at(10)
	rec := run.Record{Run: "20261127T040000-abcdef", Project: "demo", User: "me", Engine: "docker", Started: t0, Ended: &end, State: run.RunFailed,
		Services: map[string]*run.Service{
			"base": {Status: run.Built, ID: "sha256:base", Timing: &run.Timing{Inputs: sp(0, 0.2), Build: sp(0.2, 4)}},
			"api": {Status: run.Built, ID: "sha256:api", DependsOn: []string{"base"},
				Timing: &run.Timing{DepWait: sp(0, 4), Inputs: sp(4, 4.1), SlotWait: sp(4.1, 5), Build: sp(5, 8.5), DeliveryWait: sp(8.5, 8.6),
					Steps: []run.Step{{Name: "[1/2] FROM slipway.local/base/debian:bookworm", Span: *sp(5, 5), Cached: true}, {Name: "[2/2] RUN make", Span: *sp(5.1, 8.4)}}},
				Kind: &run.KindLoad{Cluster: "kind", Loads: map[string]*run.NodeLoad{
					"kind-control-plane": {Span: *sp(8.6, 10), Action: "loaded", BytesSent: 2 << 20, BytesSkipped: 30 << 20},
					"kind-worker":        {Span: *sp(8.6, 8.7), Action: "present"},
				}}},
			"web":    {Status: run.Reused, ID: "sha256:web", Timing: &run.Timing{Inputs: sp(0, 0.3), Reuse: sp(0.25, 0.3)}},
			"worker": {Status: run.Built, Timing: &run.Timing{Inputs: sp(0, 0.1), Build: sp(0.1, 6)}},
			"bad":    {Status: run.Failed, Error: "bad: build failed: exit status 3", Log: logPath, Timing: &run.Timing{Inputs: sp(0, 0.1), Build: sp(0.1, 2)}},
		}}
	earlier := run.Record{Run: "20261126T000000-000000", Services: map[string]*run.Service{"web": {Status: run.Built, ID: "sha256:web", DurationMS: 7000}}}
	return rec, []run.Record{earlier}
}

func TestCriticalPath(t *testing.T) {
	rec, hist := handMade(t)
	m := New(rec, Options{History: hist})
	if got := strings.Join(m.Critical, ","); got != "base,api" {
		t.Fatalf("critical path %q, want base,api", got)
	}
	for _, s := range m.Services {
		if s.Critical != (s.Name == "base" || s.Name == "api") {
			t.Errorf("%s critical = %v", s.Name, s.Critical)
		}
	}
	crit := map[string]bool{}
	for _, b := range m.Service("api").Bars {
		crit[string(b.Phase)+b.Node] = b.Critical
	}
	for _, k := range []string{"deps", "slot", "build", "queue", "loadkind-control-plane"} {
		if !crit[k] {
			t.Errorf("api's %s is not on the critical path: %v", k, crit)
		}
	}
	for _, b := range m.Service("base").Bars {
		if !b.Critical {
			t.Errorf("base's %s is not on the critical path", b.Phase)
		}
	}
}

// A dependency that loads after its dependents started: its load is not
// what held the run up.
func TestCriticalPathStopsAtTheDependencysBuild(t *testing.T) {
	rec, hist := handMade(t)
	rec.Services["base"].Kind = &run.KindLoad{Loads: map[string]*run.NodeLoad{"n": {Span: *sp(4, 4.5), Action: "loaded"}}}
	m := New(rec, Options{History: hist})
	for _, b := range m.Service("base").Bars {
		if b.Phase == Loading && b.Critical {
			t.Error("base's load after its build is on the critical path")
		}
	}
}

func TestTotalsInTheModel(t *testing.T) {
	rec, hist := handMade(t)
	m := New(rec, Options{History: hist})
	if m.Wall != 10*time.Second {
		t.Errorf("wall %s", m.Wall)
	}
	// base 3.8 + api 3.5 + worker 5.9 + bad 1.9
	if m.Totals.Build != 15100*time.Millisecond || m.Totals.Saved != 7*time.Second {
		t.Errorf("build %s saved %s", m.Totals.Build, m.Totals.Saved)
	}
	if tail := m.Service("bad").LogTail; len(tail) != 20 || tail[19] != "ERROR: <script>exit 3</script>" || tail[0] != "line 12" {
		t.Errorf("log tail %q", tail)
	}
}

var (
	sectionRE = regexp.MustCompile(`<section class="service[^"]*" data-service="([^"]+)" data-status="([^"]+)" data-critical="(true|false)"`)
	phaseRE   = regexp.MustCompile(`data-phase="(\w+)" data-ms="(\d+)" data-start-ms="(\d+)" data-critical="(true|false)"(?: data-node="([^"]+)" data-action="(\w*)")?`)
)

func TestHTML(t *testing.T) {
	rec, hist := handMade(t)
	m := New(rec, Options{History: hist})
	var buf bytes.Buffer
	if err := m.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if regexp.MustCompile(`(?i)(src|href)="https?:`).MatchString(page) || strings.Contains(page, "@import") {
		t.Error("the page fetches something from the network")
	}
	secs := sectionRE.FindAllStringSubmatch(page, -1)
	if len(secs) != len(rec.Services) {
		t.Fatalf("%d service sections, want %d", len(secs), len(rec.Services))
	}
	// Each service section's phase rows match the record's spans.
	parts := sectionRE.Split(page, -1)[1:]
	for i, sec := range secs {
		name := sec[1]
		rs := rec.Services[name]
		if sec[2] != string(rs.Status) {
			t.Errorf("%s status %s", name, sec[2])
		}
		want := map[string]*run.Span{"deps": rs.Timing.DepWait, "inputs": rs.Timing.Inputs, "slot": rs.Timing.SlotWait, "build": rs.Timing.Build, "reuse": rs.Timing.Reuse, "queue": rs.Timing.DeliveryWait}
		seen := 0
		for _, ph := range phaseRE.FindAllStringSubmatch(parts[i], -1) {
			ms, _ := strconv.ParseInt(ph[2], 10, 64)
			start, _ := strconv.ParseInt(ph[3], 10, 64)
			if ph[1] == "load" {
				l := rs.Kind.Loads[ph[5]]
				if l == nil || !near(ms, l.Span.Duration()) || ph[6] != l.Action {
					t.Errorf("%s load row %v, record %+v", name, ph[1:], l)
				}
				seen++
				continue
			}
			if ph[1] == "step" {
				continue
			}
			s := want[ph[1]]
			if s == nil {
				t.Errorf("%s: a %s row the record lacks", name, ph[1])
				continue
			}
			if !near(ms, s.Duration()) || !near(start, s.Start.Sub(t0)) {
				t.Errorf("%s %s: %d ms from %d, record %s from %s", name, ph[1], ms, start, s.Duration(), s.Start.Sub(t0))
			}
			seen++
		}
		n := 0
		for _, s := range want {
			if s != nil {
				n++
			}
		}
		if rs.Kind != nil {
			n += len(rs.Kind.Loads)
		}
		if seen != n {
			t.Errorf("%s: %d phase rows, want %d", name, seen, n)
		}
	}
	for _, want := range []string{
		`data-critical-service="base"`, `data-critical-service="api"`,
		`data-failure="bad"`,
		`ERROR: &lt;script&gt;exit 3&lt;/script&gt;`, // the log tail, escaped
		`data-total="saved" data-ms="7000"`,
		`data-total="wall" data-ms="10000"`,
		`data-cached="true"`,
		`data-node="kind-control-plane" data-sent="2097152" data-skipped="31457280"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(page, "line 11\n") {
		t.Error("the log tail is longer than 20 lines")
	}
}

// near reports whether ms is d within rounding.
func near(ms int64, d time.Duration) bool {
	diff := ms - d.Round(time.Millisecond).Milliseconds()
	return diff >= -1 && diff <= 1
}

// The trace is valid trace-event JSON: every event has a known phase,
// complete events a non-negative duration in microseconds, and a thread's
// complete events nest.
func TestTrace(t *testing.T) {
	rec, hist := handMade(t)
	m := New(rec, Options{History: hist})
	var buf bytes.Buffer
	if err := m.WriteTrace(&buf); err != nil {
		t.Fatal(err)
	}
	events := checkTrace(t, buf.Bytes())
	var build, load map[string]any
	for _, e := range events {
		args, _ := e["args"].(map[string]any)
		if e["ph"] == "X" && e["cat"] == "build" && args["service"] == "api" {
			build = e
		}
		if e["ph"] == "X" && e["cat"] == "load" && args["node"] == "kind-control-plane" {
			load = e
		}
	}
	if build == nil || build["ts"].(float64) != 5e6 || build["dur"].(float64) != 3.5e6 || build["args"].(map[string]any)["critical"] != true {
		t.Errorf("api's build event %v", build)
	}
	if load == nil || load["name"] != "api" || load["args"].(map[string]any)["bytes_sent"].(float64) != 2<<20 {
		t.Errorf("api's load event %v", load)
	}
}

// checkTrace checks data against the trace-event format and returns its
// events.
func checkTrace(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var file map[string]json.RawMessage
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("the trace is not a JSON object: %v", err)
	}
	var events []map[string]any
	if err := json.Unmarshal(file["traceEvents"], &events); err != nil || len(events) == 0 {
		t.Fatalf("traceEvents: %v (%d events)", err, len(events))
	}
	type span struct{ ts, end float64 }
	threads := map[[2]float64][]span{}
	for _, e := range events {
		name, _ := e["name"].(string)
		_, pidOK := e["pid"].(float64)
		_, tidOK := e["tid"].(float64)
		if name == "" || !pidOK || !tidOK {
			t.Errorf("event without name, pid or tid: %v", e)
		}
		switch e["ph"] {
		case "M":
			if _, ok := e["args"].(map[string]any); !ok {
				t.Errorf("metadata without args: %v", e)
			}
		case "X":
			ts, ok1 := e["ts"].(float64)
			dur, ok2 := e["dur"].(float64)
			if !ok1 || !ok2 || ts < 0 || dur < 0 {
				t.Errorf("complete event without ts/dur ≥ 0: %v", e)
			}
			k := [2]float64{e["pid"].(float64), e["tid"].(float64)}
			threads[k] = append(threads[k], span{ts, ts + dur})
		default:
			t.Errorf("unexpected phase %v", e["ph"])
		}
	}
	for k, spans := range threads {
		for i, a := range spans {
			for _, b := range spans[i+1:] {
				nested := a.ts <= b.ts && b.end <= a.end || b.ts <= a.ts && a.end <= b.end
				if !nested && a.ts < b.end && b.ts < a.end {
					t.Errorf("thread %v: events %v and %v overlap without nesting", k, a, b)
				}
			}
		}
	}
	return events
}

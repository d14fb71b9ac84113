package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/run"
)

// The report of a real run, opened in a real headless Chromium with no
// network: one section per service, each phase row's duration — as
// written and as drawn — matches the run record, the critical path is
// marked, and the failed service shows its log tail. A second run reuses
// every image and its report counts the time saved; its trace is valid.
//
// SLIPWAY_UPDATE_SCREENSHOT=1 writes the screenshot to docs/report.png.
func TestReportInChromium(t *testing.T) {
	chromium := needChromium(t)
	cluster, nodes := newCluster(t)
	// The nonce keeps BuildKit's cache of an earlier run of this test from
	// answering the builds.
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	r := newRepo(t, map[string]string{
		"base":   "FROM " + BaseImage + "\nRUN sleep 2 && echo " + nonce + " > /base.txt\n",
		"api":    "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN sleep 2 && head -c 3000000 /dev/urandom > /api.bin\n",
		"worker": "FROM " + BaseImage + "\nRUN sleep 1 && echo " + nonce + " > /worker.txt\n",
		"broken": "FROM " + BaseImage + "\nRUN echo first words " + nonce + "; echo broken-marker-4711; exit 3\n",
	}, "")
	cfg := filepath.Join(r.Dir, "slipway.yaml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(b), "  api:\n", "  api:\n    depends_on: [base]\n", 1)), 0o644)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Two slots for three services ready at once: one waits for a slot.
	first := r.slipway(ctx, nil, "build", "--kind", "--cluster="+cluster, "--keep-going", "-j", "2", "--report", "--progress", "plain")
	if first.Code != 1 {
		t.Fatalf("exit %d, want 1 (broken fails)\n%s", first.Code, first.Stderr)
	}
	page := regexp.MustCompile(`(?m)^report: (\S+)$`).FindStringSubmatch(first.Stderr)
	if page == nil {
		t.Fatalf("build --report printed no path:\n%s", first.Stderr)
	}
	rec := readRecord(t, r.State, first.Meta.Run)

	shot := filepath.Join(t.TempDir(), "report.png")
	if os.Getenv("SLIPWAY_UPDATE_SCREENSHOT") != "" {
		shot = filepath.Join(repoRoot(), "docs", "report.png")
	}
	dom := openInChromium(t, ctx, chromium, page[1], shot)
	checkScreenshot(t, shot)
	if !strings.Contains(dom, `data-rendered="true"`) {
		t.Fatal("the page's script did not run")
	}

	// One section per service, each with its record's status.
	secs := sectionOf(dom)
	if len(secs) != len(rec.Services) {
		t.Fatalf("%d service sections, want %d", len(secs), len(rec.Services))
	}
	for name, rs := range rec.Services {
		sec, ok := secs[name]
		if !ok {
			t.Fatalf("no section for %s", name)
		}
		if !strings.Contains(sec, `data-status="`+string(rs.Status)+`"`) {
			t.Errorf("%s: status is not %s", name, rs.Status)
		}
		checkPhases(t, name, sec, rs, rec.Started)
	}
	if rec.Services["api"].Timing.DepWait == nil || rec.Services["api"].Timing.Build == nil {
		t.Fatalf("api's record lacks its dependency wait or build: %+v", rec.Services["api"].Timing)
	}
	slot := 0
	for _, rs := range rec.Services {
		if rs.Timing != nil && rs.Timing.SlotWait != nil {
			slot++
		}
	}
	if slot == 0 {
		t.Error("no service waited for a slot with -j 2 and three ready at once")
	}
	// The load went to both nodes and its bytes are counted.
	for _, n := range nodes {
		l := rec.Services["api"].Kind.Loads[n]
		if l == nil || l.Action != "loaded" || l.BytesSent < 3000000 {
			t.Errorf("api's load into %s: %+v", n, l)
		}
	}

	// The critical path: api waited for base, and finished last.
	crit := regexp.MustCompile(`data-critical-service="([^"]+)"`).FindAllStringSubmatch(dom, -1)
	var path []string
	for _, c := range crit {
		path = append(path, c[1])
	}
	if strings.Join(path, ",") != "base,api" {
		t.Errorf("critical path %v, want base,api", path)
	}
	for _, s := range []string{"base", "api"} {
		if !strings.Contains(secs[s], `data-critical="true"`) {
			t.Errorf("%s is not marked critical", s)
		}
	}
	if !regexp.MustCompile(`data-phase="deps"[^>]*data-critical="true"`).MatchString(secs["api"]) {
		t.Error("api's wait for base is not marked critical")
	}
	if strings.Contains(secs["worker"], `data-critical="true"`) {
		t.Error("worker is marked critical")
	}

	// The failed service shows its error and its log's tail.
	tail := regexp.MustCompile(`(?s)<pre class="log-tail"[^>]*>(.*?)</pre>`).FindStringSubmatch(secs["broken"])
	if tail == nil || !strings.Contains(tail[1], "broken-marker-4711") {
		t.Errorf("broken shows no log tail with its output:\n%s", secs["broken"])
	}
	if !strings.Contains(secs["broken"], `class="error"`) {
		t.Error("broken shows no error")
	}

	// Again: every good image is reused, and the report counts what their
	// builds took as saved; the loads are re-tags.
	second := r.slipway(ctx, nil, "build", "--kind", "--cluster="+cluster, "--keep-going", "--progress", "quiet")
	if second.Code != 1 {
		t.Fatalf("second run exit %d\n%s", second.Code, second.Stderr)
	}
	tracePath := filepath.Join(t.TempDir(), "trace.json")
	htmlPath := filepath.Join(t.TempDir(), "again.html")
	rep := r.slipway(ctx, nil, "report", second.Meta.Run, "--html", htmlPath, "--trace", tracePath)
	if rep.Code != 0 || !strings.Contains(rep.Stdout, htmlPath) || !strings.Contains(rep.Stdout, tracePath) {
		t.Fatalf("report exit %d:\n%s%s", rep.Code, rep.Stdout, rep.Stderr)
	}
	var saved time.Duration
	for _, s := range []string{"base", "api", "worker"} {
		if st := second.Meta.Services[s].Status; st != run.Reused {
			t.Errorf("%s %s on the second run", s, st)
		}
		saved += rec.Services[s].Timing.Build.Duration()
	}
	again, _ := os.ReadFile(htmlPath)
	m := regexp.MustCompile(`data-total="saved" data-ms="(\d+)"`).FindSubmatch(again)
	if m == nil {
		t.Fatal("no time saved in the second report")
	}
	if got, _ := strconv.ParseInt(string(m[1]), 10, 64); math.Abs(float64(got-saved.Milliseconds())) > 3 {
		t.Errorf("saved %d ms, want %d ms (the first run's builds)", got, saved.Milliseconds())
	}
	rec2 := readRecord(t, r.State, second.Meta.Run)
	for _, n := range nodes {
		if l := rec2.Services["api"].Kind.Loads[n]; l == nil || l.Action != "retagged" || l.BytesSent != 0 {
			t.Errorf("api's second load into %s: %+v", n, l)
		}
	}
	data, err := os.ReadFile(tracePath)
	if err != nil {
		t.Fatal(err)
	}
	checkTraceFile(t, data, len(rec2.Services))
}

// needChromium finds Debian's chromium and unshare, or fails the test.
func needChromium(t *testing.T) string {
	t.Helper()
	needEngine(t)
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the report test needs Debian's chromium (apt-get install chromium): %v", err)
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("the report test needs unshare to cut Chromium off the network: %v", err)
	}
	return p
}

// openInChromium takes a screenshot of the page and returns its DOM after
// its script ran. Chromium runs in a network namespace of its own, with no
// interface but a loopback that is down, so the page can fetch nothing.
func openInChromium(t *testing.T, ctx context.Context, chromium, page, shot string) string {
	t.Helper()
	profile := t.TempDir()
	args := func(extra ...string) []string {
		return append([]string{"-n", chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
			"--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + profile,
			"--window-size=1400,900"}, append(extra, "file://"+page)...)
	}
	shotCmd := exec.CommandContext(ctx, "unshare", args("--screenshot="+shot)...)
	if out, err := shotCmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, out)
	}
	var dom, stderr bytes.Buffer
	domCmd := exec.CommandContext(ctx, "unshare", args("--dump-dom")...)
	domCmd.Stdout, domCmd.Stderr = &dom, &stderr
	if err := domCmd.Run(); err != nil {
		t.Fatalf("chromium --dump-dom: %v\n%s", err, stderr.String())
	}
	return dom.String()
}

func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1400 || b.Dy() != 900 {
		t.Errorf("screenshot %v, want 1400x900", b)
	}
}

func readRecord(t *testing.T, state, id string) run.Record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(state, "runs", id, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec run.Record
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

var sectionStart = regexp.MustCompile(`<section class="service[^"]*" data-service="([^"]+)"`)

// sectionOf splits the DOM into each service's section.
func sectionOf(dom string) map[string]string {
	idx := sectionStart.FindAllStringSubmatchIndex(dom, -1)
	out := map[string]string{}
	for i, m := range idx {
		end := len(dom)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		out[dom[m[2]:m[3]]] = dom[m[0]:end]
	}
	return out
}

var (
	rowRE  = regexp.MustCompile(`<div class="row phase"([^>]*)>`)
	attrRE = regexp.MustCompile(`data-([a-z-]+)="([^"]*)"`)
)

// checkPhases compares each phase row of a section with the record: its
// duration and start as written (within rounding) and as drawn (within a
// few pixels: a bar is at least 2 px wide).
func checkPhases(t *testing.T, name, sec string, rs *run.Service, started time.Time) {
	t.Helper()
	want := map[string]*run.Span{}
	if tm := rs.Timing; tm != nil {
		want = map[string]*run.Span{"deps": tm.DepWait, "inputs": tm.Inputs, "slot": tm.SlotWait, "build": tm.Build, "reuse": tm.Reuse, "push": tm.Push, "queue": tm.DeliveryWait}
	}
	rows := 0
	for _, row := range rowRE.FindAllStringSubmatch(sec, -1) {
		a := map[string]string{}
		for _, m := range attrRE.FindAllStringSubmatch(row[1], -1) {
			a[m[1]] = m[2]
		}
		var s *run.Span
		if a["phase"] == "load" {
			l := rs.Kind.Loads[a["node"]]
			if l == nil {
				t.Errorf("%s: a load row for %s, which the record lacks", name, a["node"])
				continue
			}
			if a["action"] != l.Action || a["bytes-sent"] != strconv.FormatInt(l.BytesSent, 10) {
				t.Errorf("%s load → %s: %v, record %+v", name, a["node"], a, l)
			}
			s = &l.Span
		} else {
			s = want[a["phase"]]
		}
		if s == nil {
			t.Errorf("%s: a %s row the record lacks", name, a["phase"])
			continue
		}
		rows++
		ms, _ := strconv.ParseFloat(a["ms"], 64)
		start, _ := strconv.ParseFloat(a["start-ms"], 64)
		if math.Abs(ms-float64(s.Duration().Milliseconds())) > 1 || math.Abs(start-float64(s.Start.Sub(started).Milliseconds())) > 1 {
			t.Errorf("%s %s: %v ms from %v, record %s from %s", name, a["phase"], ms, start, s.Duration(), s.Start.Sub(started))
		}
		drawn, err1 := strconv.ParseFloat(a["drawn-ms"], 64)
		pxPerMs, err2 := strconv.ParseFloat(a["px-per-ms"], 64)
		if err1 != nil || err2 != nil || pxPerMs <= 0 {
			t.Errorf("%s %s: not drawn (%v)", name, a["phase"], a)
			continue
		}
		if tol := 3/pxPerMs + ms/100; math.Abs(drawn-ms) > tol {
			t.Errorf("%s %s: drawn as %v ms, is %v ms", name, a["phase"], drawn, ms)
		}
	}
	n := 0
	for _, s := range want {
		if s != nil && !s.End.IsZero() {
			n++
		}
	}
	if rs.Kind != nil {
		n += len(rs.Kind.Loads)
	}
	if rows != n {
		t.Errorf("%s: %d phase rows, the record has %d phases", name, rows, n)
	}
}

// checkTraceFile checks data against the trace-event format: an object
// with traceEvents, each complete event ("X") with a name, pid, tid and
// ts/dur in microseconds, metadata ("M") naming every service's thread.
func checkTraceFile(t *testing.T, data []byte, services int) {
	t.Helper()
	var tr struct {
		TraceEvents []struct {
			Name string         `json:"name"`
			Cat  string         `json:"cat"`
			Ph   string         `json:"ph"`
			Ts   *float64       `json:"ts"`
			Dur  *float64       `json:"dur"`
			Pid  *int           `json:"pid"`
			Tid  *int           `json:"tid"`
			Args map[string]any `json:"args"`
		} `json:"traceEvents"`
		DisplayTimeUnit string            `json:"displayTimeUnit"`
		OtherData       map[string]string `json:"otherData"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tr); err != nil {
		t.Fatalf("the trace does not parse as trace-event JSON: %v", err)
	}
	threads, complete := 0, 0
	for _, e := range tr.TraceEvents {
		if e.Name == "" || e.Pid == nil || e.Tid == nil {
			t.Errorf("event lacks name, pid or tid: %+v", e)
		}
		switch e.Ph {
		case "X":
			complete++
			if e.Ts == nil || e.Dur == nil || *e.Ts < 0 || *e.Dur < 0 {
				t.Errorf("complete event without ts and dur: %+v", e)
			}
		case "M":
			if e.Name == "thread_name" && e.Pid != nil && *e.Pid == 1 && !strings.HasSuffix(e.Args["name"].(string), " steps") {
				threads++
			}
		default:
			t.Errorf("unexpected phase %q", e.Ph)
		}
	}
	if threads != services || complete == 0 || tr.DisplayTimeUnit != "ms" {
		t.Errorf("%d service threads (want %d), %d complete events, unit %q", threads, services, complete, tr.DisplayTimeUnit)
	}
}

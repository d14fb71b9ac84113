// Command measure runs one command and reports, as one JSON object, what the
// whole machine spent on it: wall time, CPU busy time from /proc/stat, and the
// peak of used memory (MemTotal-MemAvailable from /proc/meminfo) above the
// baseline taken just before the command started. It also samples memory
// cgroups (by default the one holding dockerd, where Docker's embedded
// BuildKit runs, and /sys/fs/cgroup/memory/docker, which holds BuildKit's RUN
// step containers on cgroup v1).
//
// It is a helper of bench/run.sh, not part of slipway:
//
//	measure -label slipway -out results.jsonl -- slipway build --no-cache
//
// The numbers are system-wide: anything else running on the machine is
// counted too. -idle measures the busy rate for a moment before the command
// so that noise can be judged.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// CgroupResult is the memory one cgroup gained during the run.
type CgroupResult struct {
	Path            string  `json:"path"`
	BaselineMiB     float64 `json:"baseline_mib"`
	PeakMiB         float64 `json:"peak_mib"`
	PeakDeltaMiB    float64 `json:"peak_delta_mib"`
	RSSBaselineMiB  float64 `json:"rss_baseline_mib"`
	RSSPeakMiB      float64 `json:"rss_peak_mib"`
	RSSPeakDeltaMiB float64 `json:"rss_peak_delta_mib"`
}

// Result is one measured run.
type Result struct {
	Label           string            `json:"label"`
	Command         []string          `json:"command"`
	Start           time.Time         `json:"start"`
	ExitCode        int               `json:"exit_code"`
	WallS           float64           `json:"wall_s"`
	Cores           int               `json:"cores"`
	CPUBusyS        float64           `json:"cpu_busy_s"`
	CPUIdleS        float64           `json:"cpu_idle_s"`             // idle+iowait
	Utilisation     float64           `json:"utilisation"`            // busy / (cores*wall)
	WallOverCPUWork float64           `json:"wall_over_cpu_per_core"` // wall / (busy/cores)
	IdleBusyRate    float64           `json:"idle_busy_rate"`         // busy cores before the run (noise), -1 if not measured
	QuietWaitS      float64           `json:"quiet_wait_s"`           // time spent waiting for a quiet machine
	QuietTimedOut   bool              `json:"quiet_timed_out"`        // ran although the machine stayed busy
	MemBaselineMiB  float64           `json:"mem_baseline_mib"`
	MemPeakMiB      float64           `json:"mem_peak_mib"`
	MemPeakDeltaMiB float64           `json:"mem_peak_delta_mib"`
	Samples         int               `json:"samples"`
	LoadAvg         string            `json:"loadavg"`                 // /proc/loadavg (1, 5, 15 min) as the command started
	ToolMaxRSSMiB   float64           `json:"tool_maxrss_mib"`         // largest max RSS of the command or any of its waited-for descendants (getrusage)
	WatchDir        string            `json:"watch_dir,omitempty"`     // -watch-dir
	WatchPeakBytes  int64             `json:"watch_peak_bytes"`        // peak bytes of files under -watch-dir during the run (-1: not watched)
	WatchSamples    int               `json:"watch_samples,omitempty"` // how often it was sampled
	Cgroups         []CgroupResult    `json:"cgroups,omitempty"`
	Extra           map[string]string `json:"extra,omitempty"`
}

func main() {
	var (
		label    = flag.String("label", "", "name of this run in the output")
		out      = flag.String("out", "", "append the JSON result as one line to this file (default: stdout)")
		interval = flag.Duration("interval", 200*time.Millisecond, "sampling interval")
		idle     = flag.Duration("idle", 0, "measure the machine's busy rate for this long before the run (e.g. 3s)")
		quiet    = flag.Float64("wait-quiet", 0, "before the run, wait until the busy rate over one -idle window (default 2s) is below this many cores")
		quietMax = flag.Duration("wait-timeout", 5*time.Minute, "give up waiting for quiet after this long and run anyway")
		noAuto   = flag.Bool("no-auto-cgroups", false, "do not sample dockerd's memory cgroup and /sys/fs/cgroup/memory/docker")
		watchDir = flag.String("watch-dir", "", "sample the total size of the files under this directory (like du -sb) and report its peak, e.g. the command's TMPDIR")
		watchInt = flag.Duration("watch-interval", 100*time.Millisecond, "sampling interval of -watch-dir")
		cgroups  multiFlag
		extras   multiFlag
	)
	flag.Var(&cgroups, "cgroup", "also sample this memory cgroup directory (repeatable)")
	flag.Var(&extras, "extra", "KEY=VALUE copied into the result (repeatable)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: measure [flags] -- COMMAND [ARG...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if !*noAuto {
		cgroups = append(cgroups, autoCgroups()...)
	}
	if *quiet > 0 && *idle <= 0 {
		*idle = 2 * time.Second
	}
	res, err := measure(args, *interval, *idle, *quiet, *quietMax, dedupe(cgroups), *watchDir, *watchInt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
	res.Label = *label
	for _, kv := range extras {
		k, v, _ := strings.Cut(kv, "=")
		if res.Extra == nil {
			res.Extra = map[string]string{}
		}
		res.Extra[k] = v
	}
	line, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
	line = append(line, '\n')
	if *out == "" {
		os.Stdout.Write(line)
	} else {
		f, err := os.OpenFile(*out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = f.Write(line)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "measure:", err)
			os.Exit(1)
		}
	}
	fmt.Fprintf(os.Stderr, "measure: %s: exit %d, wall %.1fs, cpu busy %.1fs (%.0f%% of %d cores), wall/(cpu/cores) %.2f, peak mem +%.0f MiB\n",
		res.Label, res.ExitCode, res.WallS, res.CPUBusyS, 100*res.Utilisation, res.Cores, res.WallOverCPUWork, res.MemPeakDeltaMiB)
	os.Exit(res.ExitCode)
}

func measure(args []string, interval, idle time.Duration, quiet float64, quietMax time.Duration, cgroups []string, watchDir string, watchInt time.Duration) (*Result, error) {
	res := &Result{Command: args, IdleBusyRate: -1, WatchPeakBytes: -1, WatchDir: watchDir}
	waitStart := time.Now()
	for idle > 0 {
		b0, _, err := readCPU()
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		time.Sleep(idle)
		b1, _, err := readCPU()
		if err != nil {
			return nil, err
		}
		res.IdleBusyRate = round(float64(b1-b0)/clkTck/time.Since(t0).Seconds(), 3)
		if quiet <= 0 || res.IdleBusyRate < quiet {
			break
		}
		if time.Since(waitStart) > quietMax {
			res.QuietTimedOut = true
			fmt.Fprintf(os.Stderr, "measure: machine still busy (%.2f cores) after %s; running anyway\n", res.IdleBusyRate, quietMax)
			break
		}
	}
	res.QuietWaitS = round(time.Since(waitStart).Seconds(), 1)

	cores, err := countCores()
	if err != nil {
		return nil, err
	}
	res.Cores = cores
	memBase, err := usedMem()
	if err != nil {
		return nil, err
	}
	cgs := make([]*cgSampler, len(cgroups))
	for i, p := range cgroups {
		cgs[i] = newCgSampler(p)
	}
	memPeak := memBase
	samples := 1

	busy0, idle0, err := readCPU()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	res.Start = time.Now()
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(la)); len(f) >= 3 {
			res.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// Forward interrupts so the measured command can clean up.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var watchStop chan struct{}
	var watchDone chan [2]int64
	if watchDir != "" {
		watchStop, watchDone = make(chan struct{}), make(chan [2]int64, 1)
		go watch(watchDir, watchInt, watchStop, watchDone)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var waitErr error
loop:
	for {
		select {
		case waitErr = <-done:
			break loop
		case <-tick.C:
			if m, err := usedMem(); err == nil && m > memPeak {
				memPeak = m
			}
			for _, c := range cgs {
				c.sample()
			}
			samples++
		}
	}
	wall := time.Since(res.Start)
	if watchStop != nil {
		close(watchStop)
		w := <-watchDone
		res.WatchPeakBytes, res.WatchSamples = w[0], int(w[1])
	}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			res.ToolMaxRSSMiB = round(float64(ru.Maxrss)/1024, 1) // kB on Linux
		}
	}
	busy1, idle1, err := readCPU()
	if err != nil {
		return nil, err
	}
	signal.Stop(sigs)
	close(sigs)
	// One last memory sample, at the end.
	if m, err := usedMem(); err == nil && m > memPeak {
		memPeak = m
	}

	res.ExitCode = 0
	if waitErr != nil {
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			res.ExitCode = ee.ExitCode()
			if res.ExitCode < 0 {
				res.ExitCode = 128
			}
		} else {
			return nil, waitErr
		}
	}
	res.WallS = round(wall.Seconds(), 2)
	res.CPUBusyS = round(float64(busy1-busy0)/clkTck, 2)
	res.CPUIdleS = round(float64(idle1-idle0)/clkTck, 2)
	if wall > 0 && cores > 0 {
		res.Utilisation = round(res.CPUBusyS/(float64(cores)*wall.Seconds()), 3)
	}
	if res.CPUBusyS > 0 {
		res.WallOverCPUWork = round(wall.Seconds()/(res.CPUBusyS/float64(cores)), 3)
	}
	res.MemBaselineMiB = mib(memBase)
	res.MemPeakMiB = mib(memPeak)
	res.MemPeakDeltaMiB = mib(memPeak - memBase)
	res.Samples = samples
	for _, c := range cgs {
		if r, ok := c.result(); ok {
			res.Cgroups = append(res.Cgroups, r)
		}
	}
	return res, nil
}

// watch samples the size of the files under dir every interval until stop is
// closed (and once more then), and sends {peak bytes, samples}.
func watch(dir string, interval time.Duration, stop <-chan struct{}, out chan<- [2]int64) {
	var peak, n int64
	sample := func() {
		if b := dirBytes(dir); b > peak {
			peak = b
		}
		n++
	}
	sample()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			sample()
			out <- [2]int64{peak, n}
			return
		case <-t.C:
			sample()
		}
	}
}

// dirBytes is the apparent size of the regular files under dir (du -sb
// without the directories' own sizes); files vanishing meanwhile are skipped.
func dirBytes(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

// clkTck is USER_HZ, the unit of /proc/stat; it is 100 on every Linux ABI Go
// supports.
const clkTck = 100.0

// readCPU returns the aggregate busy (user+nice+system+irq+softirq+steal) and
// idle (idle+iowait) jiffies. guest and guest_nice are already inside user and
// nice.
func readCPU() (busy, idle uint64, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	v := make([]uint64, 8)
	for i := 1; i < len(f) && i <= 8; i++ {
		v[i-1], err = strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	// user nice system idle iowait irq softirq steal
	busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	idle = v[3] + v[4]
	return busy, idle, nil
}

func countCores() (int, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "cpu") && len(l) > 3 && l[3] >= '0' && l[3] <= '9' {
			n++
		}
	}
	if n == 0 {
		return 0, errors.New("/proc/stat: no cpuN lines")
	}
	return n, sc.Err()
}

// usedMem is MemTotal-MemAvailable in bytes.
func usedMem() (int64, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	var total, avail int64 = -1, -1
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "MemTotal:":
			total = kb * 1024
		case "MemAvailable:":
			avail = kb * 1024
		}
	}
	if total < 0 || avail < 0 {
		return 0, errors.New("/proc/meminfo: no MemTotal or MemAvailable")
	}
	return total - avail, nil
}

// autoCgroups finds dockerd's memory cgroup and Docker's own parent cgroup.
func autoCgroups() []string {
	var out []string
	if pid := findProc("dockerd"); pid > 0 {
		if p := memCgroupOf(pid); p != "" {
			out = append(out, p)
		}
	}
	for _, p := range []string{"/sys/fs/cgroup/memory/docker", "/sys/fs/cgroup/system.slice/docker.service"} {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func findProc(name string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(comm)) == name {
			return pid
		}
	}
	return 0
}

// memCgroupOf returns the memory cgroup directory of pid (v1 memory
// controller, else the v2 unified path).
func memCgroupOf(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	var v2 string
	for _, l := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				return filepath.Join("/sys/fs/cgroup/memory", parts[2])
			}
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
		}
	}
	if v2 != "" {
		p := filepath.Join("/sys/fs/cgroup", v2)
		if _, err := os.Stat(filepath.Join(p, "memory.current")); err == nil {
			return p
		}
	}
	return ""
}

// cgSampler tracks one memory cgroup: its usage (v1 memory.usage_in_bytes,
// v2 memory.current; both include page cache) and its anonymous memory
// (v1 total_rss, v2 anon from memory.stat), which is closer to what the
// builds themselves hold.
type cgSampler struct {
	path             string
	ok               bool
	base, peak       int64
	rssBase, rssPeak int64
}

func newCgSampler(path string) *cgSampler {
	c := &cgSampler{path: path}
	u, r, err := readCg(path)
	if err == nil {
		c.ok = true
		c.base, c.peak, c.rssBase, c.rssPeak = u, u, r, r
	}
	return c
}

func (c *cgSampler) sample() {
	if !c.ok {
		return
	}
	u, r, err := readCg(c.path)
	if err != nil {
		return
	}
	c.peak = max(c.peak, u)
	c.rssPeak = max(c.rssPeak, r)
}

func (c *cgSampler) result() (CgroupResult, bool) {
	if !c.ok {
		return CgroupResult{}, false
	}
	return CgroupResult{
		Path: c.path, BaselineMiB: mib(c.base), PeakMiB: mib(c.peak), PeakDeltaMiB: mib(c.peak - c.base),
		RSSBaselineMiB: mib(c.rssBase), RSSPeakMiB: mib(c.rssPeak), RSSPeakDeltaMiB: mib(c.rssPeak - c.rssBase),
	}, true
}

func readCg(dir string) (usage, rss int64, err error) {
	usageFile, rssKey := "memory.usage_in_bytes", "total_rss"
	if _, err := os.Stat(filepath.Join(dir, usageFile)); err != nil {
		usageFile, rssKey = "memory.current", "anon"
	}
	b, err := os.ReadFile(filepath.Join(dir, usageFile))
	if err != nil {
		return 0, 0, err
	}
	usage, err = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, 0, err
	}
	st, err := os.ReadFile(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return usage, 0, nil
	}
	for _, l := range strings.Split(string(st), "\n") {
		k, v, ok := strings.Cut(l, " ")
		if ok && k == rssKey {
			rss, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return usage, rss, nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range in {
		p = filepath.Clean(p)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func mib(b int64) float64 { return round(float64(b)/(1<<20), 1) }

func round(x float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	if x < 0 {
		return -float64(int64(-x*p+0.5)) / p
	}
	return float64(int64(x*p+0.5)) / p
}

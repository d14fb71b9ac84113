package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostile returns configs that must each fail with one clear, one-line
// error, quickly and in bounded memory. want is a substring of the error.
func hostile() []struct{ name, yaml, want string } {
	var services strings.Builder
	services.WriteString("project: p\nservices:\n")
	for i := range 10_000 {
		fmt.Fprintf(&services, "  s%d: {dockerfile: D}\n", i)
	}
	laughs := "project: p\nservices:\n  a:\n    dockerfile: D\n    depends_on: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	for i := 1; i <= 9; i++ {
		laughs += fmt.Sprintf("    labels%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	// Quadratic, not exponential: 1000 aliases of a 1000-item list.
	quad := "project: p\nservices:\n  a:\n    dockerfile: D\n    depends_on: &q [" + strings.Repeat("a,", 999) + "a]\n    args: [" + strings.Repeat("*q,", 999) + "*q]\n"
	nested := "project: p\nservices:\n  a:\n    dockerfile: D\n    args: " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n"
	var args strings.Builder
	args.WriteString("project: p\nservices:\n  a:\n    dockerfile: D\n    args:\n")
	for i := 0; args.Len() < MaxFileSize-100; i++ {
		fmt.Fprintf(&args, "      K%d: v\n", i)
	}
	var block strings.Builder
	block.WriteString("project: p\nservices:\n")
	for i := range 40 {
		block.WriteString(strings.Repeat(" ", 2*i+2) + "k:\n")
	}
	viaAlias := "project: p\nservices:\n  a:\n    dockerfile: D\n    depends_on: &d " + strings.Repeat("[", 20) + strings.Repeat("]", 20) +
		"\n    args: {X: " + strings.Repeat("[", 10) + "*d" + strings.Repeat("]", 10) + "}\n"
	return []struct{ name, yaml, want string }{
		{"deep block nesting", block.String(), ":33: nested more than 32 levels deep"},
		// Found by FuzzParse: the decoder's type error quotes the tag whole.
		{"long tag", "!" + strings.Repeat("!", 5000) + " x\n", ":1: a YAML tag of 5001 bytes"},
		{"long unknown anchor", "project: *" + strings.Repeat("a", 5000) + "\n", "unknown anchor"},
		{"deep through an alias", viaAlias, ":6: nested more than 32 levels deep (MaxDepth) through this alias"},
		// The YAML decoder's duplicate-key check is quadratic: this took 34 s.
		{"66,000 args", args.String(), ":6: a map of 66221 keys: a map has at most 256"},
		{"billion laughs", laughs, "YAML aliases expand to more than 200000 nodes"},
		{"quadratic aliases", quad, "YAML aliases expand to more than 200000 nodes"},
		{"alias cycle", "project: p\nservices: &s\n  a: *s\n", ""},
		{"10,000 services", services.String(), ":2: 10000 services: slipway accepts at most 1000"},
		{"over 1 MiB", "project: p\n#" + strings.Repeat("x", MaxFileSize), "larger than 1048576 bytes"},
		{"1 MB service name", "project: p\nservices:\n  " + strings.Repeat("a", 1_000_000) + ":\n    dockerfile: D\n", ":3: mapping values are not allowed in this context (the line is 1000003 bytes long; a YAML key is at most 1024 characters)"},
		{"1 MB explicit service name", "project: p\nservices:\n  ? " + strings.Repeat("a", 1_000_000) + "\n  : {dockerfile: D}\n", ":3: a key of 1000000 bytes"},
		{"1 MB project name", "project: " + strings.Repeat("a", 1_000_000) + "\nservices:\n  a: {dockerfile: D}\n", "a value of 1000000 bytes"},
		{"1 MB arg value", "project: p\nservices:\n  a:\n    dockerfile: D\n    args:\n      X: " + strings.Repeat("v", 1_000_000) + "\n", "a value of 1000000 bytes"},
		{"1 MB arg name", "project: p\nservices:\n  a:\n    dockerfile: D\n    args:\n      " + strings.Repeat("K", 1_000_000) + ": v\n", "a YAML key is at most 1024 characters"},
		{"1 MB explicit arg name", "project: p\nservices:\n  a:\n    dockerfile: D\n    args:\n      ? " + strings.Repeat("K", 1_000_000) + "\n      : v\n", "a key of 1000000 bytes"},
		{"long service name", "project: p\nservices:\n  " + strings.Repeat("a", 64) + ":\n    dockerfile: D\n", "must be 1-63 lower-case"},
		{"deep flow nesting", "project: p\nservices: " + strings.Repeat("[", 100_000), "exceeded max depth"},
		{"deep nesting", nested, "nested more than 32 levels deep"},
		{"non-UTF-8", "project: p\nservices:\n  a: {dockerfile: D\xc3\x28}\n", ":3: not UTF-8 text (byte 0xc3)"},
		{"NUL byte", "project: p\x00\nservices:\n  a: {dockerfile: D}\n", ":1: holds a NUL byte"},
		{"escaped NUL", "project: p\nservices:\n  a:\n    dockerfile: \"D\\0\"\n", "NUL byte"},
		{"duplicate service", "project: p\nservices:\n  a: {dockerfile: D}\n  a: {dockerfile: D}\n", `mapping key "a" already defined at line 3`},
		{"duplicate top-level key", "project: p\nproject: q\nservices:\n  a: {dockerfile: D}\n", `mapping key "project" already defined`},
		{"two documents", "project: p\nservices:\n  a: {dockerfile: D}\n---\nproject: q\n", "more than one YAML document"},
		{"empty", "", "config is empty"},
		{"comments only", "# nothing\n", "no YAML document"},
		{"not a mapping", "- a\n- b\n", ":1:1: the config must be a mapping of keys, not a list of 2 items"},
		{"newline in a quoted error value", "project: p\nservices:\n  \"a\\nb\": {dockerfile: D}\n", `service name "a\nb"`},
		{"services not a map", "project: p\nservices: 12\n", `:2:11: services must be a mapping, not the value "12"`},
	}
}

// Each hostile config fails with a one-line error naming the file, within
// a second or two and without allocating more than a bounded amount.
func TestHostileConfigs(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "D"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	for _, h := range hostile() {
		t.Run(h.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			c, err := Parse(path, []byte(h.yaml))
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("accepted: %d services", len(c.Services))
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+":") || strings.ContainsAny(msg, "\r\n") || !strings.Contains(msg, h.want) {
				t.Fatalf("error %q: want one line starting with the file and holding %q", msg, h.want)
			}
			if len(msg) > len(path)+maxMsgLen+16 {
				t.Fatalf("error is %d bytes long", len(msg))
			}
			// A bound for "never hangs", not a speed goal: under -race on a
			// busy 2-core machine the largest cases take several seconds.
			if took > 60*time.Second {
				t.Fatalf("took %v", took)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 512<<20 {
				t.Fatalf("allocated %d MiB", alloc>>20)
			}
			t.Logf("%v, %d KiB allocated: %s", took.Round(time.Millisecond), (after.TotalAlloc-before.TotalAlloc)>>10, msg[len(path):])
		})
	}
}

// A config under every limit still loads: the limits leave room for real
// configs with anchors and merge keys.
func TestLimitsLeaveRoomForRealConfigs(t *testing.T) {
	var b strings.Builder
	b.WriteString("project: p\nservices:\n  s0:\n    dockerfile: D\n    args: &common\n")
	for i := range 50 {
		fmt.Fprintf(&b, "      ARG%d: value%d\n", i, i)
	}
	for i := 1; i < MaxServices; i++ {
		fmt.Fprintf(&b, "  s%d:\n    dockerfile: D\n    args: *common\n    depends_on: [s0]\n", i)
	}
	p := write(t, b.String(), "D")
	start := time.Now()
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Order) != MaxServices || len(c.Services["s999"].Args) != 50 || c.Order[1] != "s1" {
		t.Fatalf("got %d services", len(c.Order))
	}
	t.Logf("%d services, %d bytes: %v", MaxServices, b.Len(), time.Since(start))
}

// The worst legal shape — 1 MiB of maps at MaxMapEntries, which the YAML
// decoder checks for duplicate keys pairwise — still parses in bounded time.
func TestWorstCaseParseTime(t *testing.T) {
	var b strings.Builder
	b.WriteString("project: p\nservices:\n")
	for i := 0; b.Len() < MaxFileSize-20_000; i++ {
		fmt.Fprintf(&b, "  s%d:\n    dockerfile: D\n    args:\n", i)
		for j := range MaxMapEntries {
			fmt.Fprintf(&b, "      K%d: v\n", j)
		}
	}
	p := write(t, b.String(), "D")
	start, cpu0 := time.Now(), cpuTime(t)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	// The CPU this process spent, not wall time: on a shared machine with
	// a load of 40 the wall time grows eightfold while the work does not.
	// About 1 s without the race detector and 8 s with it; an unbounded
	// map of the same size took minutes.
	if took := cpuTime(t) - cpu0; took > 60*time.Second {
		t.Fatalf("%d bytes took %v of CPU", b.Len(), took)
	}
	t.Logf("%d services of %d args, %d bytes: %v (CPU %v)", len(c.Order), MaxMapEntries, b.Len(), time.Since(start), cpuTime(t)-cpu0)
}

// Load never reads more than the limit: a device or a huge file fails at
// once instead of filling memory.
func TestLoadReadsAtMostTheLimit(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		_, err := Load("/dev/zero")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Fatalf("Load(/dev/zero): %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Load(/dev/zero) did not return")
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

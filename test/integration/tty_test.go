package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/progress"
)

// The pane the live view is tested in: smaller than the fleet is tall.
const (
	paneCols  = 80
	paneLines = 12
	fleetSize = 20
)

// tmuxPane runs a command in a detached tmux session of a fixed size, on a
// tmux server of its own (so other tmux users on the machine are never
// touched), and reads the pane as a person would see it.
type tmuxPane struct {
	t      *testing.T
	socket string
}

func newPane(t *testing.T, script string) *tmuxPane {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("the live-view test needs tmux (apt-get install tmux): %v", err)
	}
	// A socket in the test's own folder: removed with it.
	p := &tmuxPane{t: t, socket: filepath.Join(t.TempDir(), "tmux")}
	out, err := p.tmux("-f", "/dev/null", "new-session", "-d", "-s", "tty", "-x", fmt.Sprint(paneCols), "-y", fmt.Sprint(paneLines), "sh", script)
	if err != nil {
		t.Fatalf("starting tmux: %v: %s", err, out)
	}
	// Only this test's server: its socket name is unique.
	t.Cleanup(func() { p.tmux("kill-server") })
	// The session must keep its size whatever client attaches (none does).
	p.tmux("set-option", "-t", "tty", "window-size", "manual")
	return p
}

func (p *tmuxPane) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-S", p.socket}, args...)...).CombinedOutput()
	return string(out), err
}

// capture is the visible pane, or with history also what scrolled off it.
func (p *tmuxPane) capture(history bool) []string {
	p.t.Helper()
	args := []string{"capture-pane", "-p", "-t", "tty"}
	if history {
		args = append(args, "-S", "-")
	}
	out, err := p.tmux(args...)
	if err != nil {
		p.t.Fatalf("capture-pane: %v: %s", err, out)
	}
	return strings.Split(strings.TrimRight(out, "\n"), "\n")
}

var headerRE = regexp.MustCompile(`^slipway  (\d+)/(\d+) done`)

// TestLiveViewInTmux builds a 20-service fleet in an 80x12 terminal and
// checks snapshots of the screen taken while it runs and after: the header
// is there, no line is wider than the terminal, the view never scrolls
// copies of itself up the screen, and finished services collapse into one
// line. Then TERM=dumb gets plain lines.
func TestLiveViewInTmux(t *testing.T) {
	dockerfiles := map[string]string{}
	for i := range fleetSize {
		svc := fmt.Sprintf("svc%02d", i)
		// The nanoseconds keep BuildKit's cache from answering at once.
		dockerfiles[svc] = fmt.Sprintf("FROM %s\nRUN sleep 1 && echo %s %d > /built\n", BaseImage, svc, time.Now().UnixNano())
	}
	r := newRepo(t, dockerfiles, "")
	exitFile := filepath.Join(t.TempDir(), "exit")
	script := filepath.Join(t.TempDir(), "run.sh")
	writeScript := func(env string) {
		os.Remove(exitFile)
		body := fmt.Sprintf("cd %q\nexport SLIPWAY_STATE_DIR=%q %s\n%q build -j 4\necho $? > %q\nsleep 600\n", r.Dir, r.State, env, bin, exitFile)
		if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeScript("")
	pane := newPane(t, script)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var snapshots [][]string
	sawCollapsed, sawRunning := false, false
	for {
		_, err := os.Stat(exitFile)
		finished := err == nil
		screen := pane.capture(false)
		snapshots = append(snapshots, screen)
		headers := 0
		for _, line := range screen {
			if w := progress.Width(line); w > paneCols {
				t.Errorf("a line of %d cells in an %d-column terminal: %q", w, paneCols, line)
			}
			if headerRE.MatchString(line) {
				headers++
			}
			if regexp.MustCompile(`^✔ \d+ finished \(`).MatchString(line) {
				sawCollapsed = true
			}
			if strings.HasPrefix(line, "● ") {
				sawRunning = true
			}
		}
		if headers > 1 {
			t.Fatalf("the header is on the screen %d times (a redraw scrolled):\n%s", headers, strings.Join(screen, "\n"))
		}
		if finished {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the build did not end in 5 minutes; screen:\n%s", strings.Join(screen, "\n"))
		}
		time.Sleep(250 * time.Millisecond)
	}
	code, _ := os.ReadFile(exitFile)
	all := pane.capture(true)
	t.Logf("snapshot %d of %d, mid-run:\n%s", len(snapshots)/2, len(snapshots), strings.Join(snapshots[len(snapshots)/2], "\n"))
	t.Logf("%d snapshots; the terminal at the end, with what scrolled off it:\n%s", len(snapshots), strings.Join(all, "\n"))
	if strings.TrimSpace(string(code)) != "0" {
		t.Fatalf("slipway build exited %s", code)
	}
	if len(snapshots) < 4 {
		t.Errorf("only %d snapshots: the run was too short to watch", len(snapshots))
	}
	if !sawRunning {
		t.Error("no snapshot shows a running service (● row)")
	}
	if !sawCollapsed {
		t.Error("no snapshot shows finished services collapsed into a summary line")
	}
	// Over the whole history, the view's header appears once: each redraw
	// replaced the last frame instead of pushing it up the screen.
	headers := 0
	var last string
	for _, line := range all {
		if progress.Width(line) > paneCols {
			t.Errorf("a line of %d cells in the history: %q", progress.Width(line), line)
		}
		if headerRE.MatchString(line) {
			headers++
			last = line
		}
	}
	if headers != 1 {
		t.Errorf("the header appears %d times in the terminal's history, want 1", headers)
	}
	if want := fmt.Sprintf("slipway  %d/%d done", fleetSize, fleetSize); !strings.HasPrefix(last, want) {
		t.Errorf("last header %q, want %q", last, want)
	}

	// TERM=dumb: plain [service] lines, no view. The images exist now, so
	// this run reuses them and is quick.
	writeScript("TERM=dumb")
	pane.tmux("kill-server")
	pane = newPane(t, script)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if _, err := os.Stat(exitFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the TERM=dumb build did not end:\n%s", strings.Join(pane.capture(true), "\n"))
		}
		time.Sleep(250 * time.Millisecond)
	}
	dumb := strings.Join(pane.capture(true), "\n")
	if regexp.MustCompile(`(?m)^slipway  \d+/\d+ done`).MatchString(dumb) || !regexp.MustCompile(`(?m)^\[svc\d\d\] `).MatchString(dumb) {
		t.Errorf("TERM=dumb did not get plain lines:\n%s", dumb)
	}
}

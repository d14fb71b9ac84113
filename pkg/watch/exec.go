package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ExecInput is the JSON --exec reads on stdin.
type ExecInput struct {
	Cycle int    `json:"cycle"`
	Run   string `json:"run"`
	// Images is every selected service's image reference.
	Images map[string]string `json:"images"`
	// Rebuilt are the services this cycle built; Changed the files.
	Rebuilt []string `json:"rebuilt"`
	Changed []string `json:"changed"`
}

// EnvName is the variable --exec finds service s's image in:
// SLIPWAY_IMAGE_ and the name upper-cased, each character other than a
// letter, digit or underscore made an underscore ("user-api" ->
// SLIPWAY_IMAGE_USER_API).
func EnvName(s string) string {
	var b strings.Builder
	b.WriteString("SLIPWAY_IMAGE_")
	for _, r := range strings.ToUpper(s) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// execEnv is the environment --exec runs with: the watch's own, plus the
// images and SLIPWAY_RUN, SLIPWAY_CYCLE and SLIPWAY_REBUILT.
func execEnv(c *Cycle) []string {
	env := os.Environ()
	for _, s := range slices.Sorted(maps.Keys(c.Refs)) {
		env = append(env, EnvName(s)+"="+c.Refs[s])
	}
	return append(env, "SLIPWAY_RUN="+c.Run, "SLIPWAY_CYCLE="+strconv.Itoa(c.Seq),
		"SLIPWAY_REBUILT="+strings.Join(c.Rebuilt, " "))
}

// runExec runs cmd with sh -c for cycle c; ctx ending stops it (its whole
// process group, so that what it started does not outlive the watch).
func runExec(ctx context.Context, cmd string, c *Cycle, stdout, stderr io.Writer) error {
	in := ExecInput{Cycle: c.Seq, Run: c.Run, Images: c.Refs, Rebuilt: c.Rebuilt, Changed: c.Changed}
	if in.Rebuilt == nil {
		in.Rebuilt = []string{}
	}
	if in.Changed == nil {
		in.Changed = []string{}
	}
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encoding --exec input: %w", err)
	}
	x := exec.CommandContext(ctx, "sh", "-c", cmd)
	x.Env = execEnv(c)
	x.Stdin = bytes.NewReader(append(body, '\n'))
	x.Stdout, x.Stderr = orDiscard(stdout), orDiscard(stderr)
	x.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	x.Cancel = func() error { return syscall.Kill(-x.Process.Pid, syscall.SIGTERM) }
	x.WaitDelay = 5 * time.Second
	if err := x.Run(); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

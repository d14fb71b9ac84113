package engine

import (
	"context"
	"os/exec"
	"syscall"
	"time"
)

// GroupCommand is exec.CommandContext whose cancellation kills the whole
// process group: build CLIs start helpers (buildx, shims) that would
// otherwise outlive a cancelled build.
func GroupCommand(ctx context.Context, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	// Pdeathsig: if slipway itself is SIGKILLed, the kernel still stops
	// the build client, so no build is left running unowned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error {
		// SIGTERM first so the client can tell the daemon to stop the build.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// RunGroup runs cmd and then kills whatever is left of its process group, so
// no helper it started survives it, whether it ended or was cancelled.
func RunGroup(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	err := cmd.Wait()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return err
}

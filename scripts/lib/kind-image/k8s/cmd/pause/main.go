// Command pause is the sandbox ("infra") container of every pod: it holds the
// pod's namespaces open, reaps zombies (it is PID 1 of the pod when the PID
// namespace is shared) and exits on SIGINT/SIGTERM. It does what
// kubernetes/build/pause/linux/pause.c does, in Go, so that the image can be
// built here from source with only the Go toolchain.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is the pause version this binary stands in for (set by -ldflags).
var version = "dev"

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-v" || os.Args[1] == "--version") {
		fmt.Printf("pause.go %s\n", version)
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			fmt.Fprintf(os.Stderr, "Shutting down, got signal: %v\n", sig)
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every exited child; SIGCHLD coalesces, so one signal may stand
// for several children.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

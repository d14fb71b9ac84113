// Command slipway builds every container image of a multi-service
// repository, uniquely tagged, in parallel.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/slipway-dev/slipway/pkg/cmd/cli"
	slipwaycmd "github.com/slipway-dev/slipway/pkg/cmd/slipway"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal cancels the run, which stops every build and
		// undoes half-done work; a second one means "now": exit at once
		// (build processes die with slipway, see engine.GroupCommand).
		sig := <-sigs
		cancel(fmt.Errorf("interrupted (%s)", sig))
		<-sigs
		fmt.Fprintln(os.Stderr, "slipway: interrupted again, exiting now")
		os.Exit(cli.ExitInterrupted)
	}()
	s := cli.Streams{Out: os.Stdout, Err: os.Stderr}
	err := slipwaycmd.New(s).ExecuteContext(ctx)
	code := cli.Code(ctx, err)
	if err != nil && code != cli.ExitOK {
		if _, reported := err.(*cli.ExitError); !reported {
			// One problem per line (a config check reports them all),
			// each with the prefix, so every line says where it came from.
			for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
				fmt.Fprintln(os.Stderr, "slipway:", line)
			}
		}
	}
	os.Exit(code)
}

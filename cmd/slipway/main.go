// Command slipway builds every container image of a multi-service
// repository, uniquely tagged, in parallel.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/slipway-dev/slipway/pkg/cmd/cli"
	slipwaycmd "github.com/slipway-dev/slipway/pkg/cmd/slipway"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	s := cli.Streams{Out: os.Stdout, Err: os.Stderr}
	err := slipwaycmd.New(s).ExecuteContext(ctx)
	code := cli.Code(ctx, err) // before stop(), which cancels ctx
	stop()
	if err != nil && code != cli.ExitOK {
		if _, reported := err.(*cli.ExitError); !reported {
			fmt.Fprintln(os.Stderr, "slipway:", err)
		}
	}
	os.Exit(code)
}

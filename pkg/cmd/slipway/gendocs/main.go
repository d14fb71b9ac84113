// Command gendocs writes slipway's CLI reference (docs/cli) from the
// command tree: go generate ./pkg/cmd/slipway.
package main

import (
	"fmt"
	"os"

	slipwaycmd "github.com/slipway-dev/slipway/pkg/cmd/slipway"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendocs DIR")
		os.Exit(2)
	}
	if err := slipwaycmd.GenerateDocs(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

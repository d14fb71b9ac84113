// signalprocessing: ingests signals. Uses pflag.
package main

import (
	"github.com/spf13/pflag"

	"example.com/fleet/internal/greet"
)

func main() {
	fs := pflag.NewFlagSet("signalprocessing", pflag.ContinueOnError)
	mode := fs.String("mode", "batch", "processing mode")
	if err := fs.Parse([]string{"--mode=stream"}); err != nil {
		panic(err)
	}
	greet.Print("signalprocessing", "mode="+*mode)
}

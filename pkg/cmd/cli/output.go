package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// Output formats. Every command that prints data takes -o; text is the
// human table, json a stable document for scripts.
const (
	Text = "text"
	JSON = "json"
)

// Output is a command's -o flag.
type Output struct {
	Format  string
	formats []string
}

// AddOutput adds -o/--output with the given formats, the first the default.
func AddOutput(cmd *cobra.Command, formats ...string) *Output {
	if len(formats) == 0 {
		formats = []string{Text, JSON}
	}
	o := &Output{formats: formats}
	cmd.Flags().StringVarP(&o.Format, "output", "o", formats[0], "output format: "+strings.Join(formats, " or "))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
	return o
}

// Check reports an unknown format as bad usage.
func (o *Output) Check() error {
	if o.Format == "table" && slices.Contains(o.formats, Text) {
		o.Format = Text // build's old name for text
	}
	if !slices.Contains(o.formats, o.Format) {
		return UsageErr("--output %q: want %s", o.Format, strings.Join(o.formats, " or "))
	}
	return nil
}

// JSON reports whether -o json was asked for.
func (o *Output) JSON() bool { return o.Format == JSON }

// WriteJSON prints v as indented JSON, the shape every -o json uses.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

package slipway

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra/doc"

	"github.com/slipway-dev/slipway/pkg/cmd/cli"
)

// The CLI reference in docs/cli is generated from the command tree; a test
// fails when it is stale. After changing a command, its flags or its help:
//
//go:generate go run ./gendocs ../../../docs/cli

// GenerateDocs writes the Markdown CLI reference, one file per command,
// into dir, removing the files of commands that are gone.
func GenerateDocs(dir string) error {
	root := New(cli.Streams{Out: io.Discard, Err: io.Discard})
	root.DisableAutoGenTag = true // no date: the files change only with the CLI
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing the CLI reference: %w", err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "slipway*.md"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("writing the CLI reference: %w", err)
		}
	}
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		return fmt.Errorf("writing the CLI reference: %w", err)
	}
	return nil
}

// DocFiles are the reference's file names for a tree: one per command.
func DocFiles(root string) []string {
	var out []string
	ms, _ := filepath.Glob(filepath.Join(root, "slipway*.md"))
	for _, m := range ms {
		out = append(out, strings.TrimPrefix(m, root+string(filepath.Separator)))
	}
	return out
}

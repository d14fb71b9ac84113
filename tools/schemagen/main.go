// Command schemagen writes the JSON Schema of slipway.yaml, reflected from
// config.Config. It lives in its own module so that the reflector
// (github.com/invopop/jsonschema and its pre-release YAML dependency) is
// needed only here, at generate time, and never by an importer of the
// slipway library, which gets the result embedded in pkg/config.
//
// Run it with `go generate ./pkg/config` from the repository root.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/invopop/jsonschema"

	"github.com/slipway-dev/slipway/pkg/config"
)

// ID is where the committed schema can be fetched, so that editors given
// the $id (or a `# yaml-language-server: $schema=` line) can resolve it.
const ID = "https://raw.githubusercontent.com/slipway-dev/slipway/main/pkg/config/schema.json"

func main() {
	out := flag.String("o", "-", "file to write, - for standard output")
	flag.Parse()
	b, err := generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "schemagen:", err)
		os.Exit(1)
	}
	if *out == "-" {
		_, err = os.Stdout.Write(b)
	} else {
		err = writeIfChanged(*out, b)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "schemagen:", err)
		os.Exit(1)
	}
}

// generate reflects config.Config into an indented schema ending in a newline.
func generate() ([]byte, error) {
	r := &jsonschema.Reflector{FieldNameTag: "yaml", RequiredFromJSONSchemaTags: true}
	s := r.Reflect(&config.Config{})
	s.ID = ID
	s.Title = "slipway.yaml"
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the schema: %w", err)
	}
	return append(b, '\n'), nil
}

// writeIfChanged leaves an up-to-date file alone, so `go generate` does not
// touch its modification time for nothing.
func writeIfChanged(path string, b []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing the schema: %w", err)
	}
	return nil
}

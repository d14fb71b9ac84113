package config

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/slipway-dev/slipway/pkg/cmd/cli"
	"github.com/slipway-dev/slipway/pkg/config"
)

// `slipway config schema` prints the embedded schema as it is: one JSON
// document ending in exactly one newline, as before it was embedded.
func TestSchemaCommand(t *testing.T) {
	var out bytes.Buffer
	cmd := New(cli.Streams{Out: &out, Err: &out}, &cli.Globals{})
	cmd.SetArgs([]string{"schema"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want, _ := config.Schema()
	if !bytes.Equal(out.Bytes(), want) || !bytes.HasSuffix(want, []byte("}\n")) {
		t.Fatalf("printed %d bytes, want the %d-byte schema ending in one newline", out.Len(), len(want))
	}
	if !json.Valid(out.Bytes()) {
		t.Fatal("printed schema is not JSON")
	}
}

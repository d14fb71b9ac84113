package config

import (
	_ "embed" // the generated schema
)

// The schema is reflected from Config by tools/schemagen, a module of its
// own, so that the reflector and its pre-release YAML dependency are needed
// at generate time only and never reach an importer of this package.
// TestSchemaUpToDate fails when Config changes and this file is not
// regenerated.
//
//go:generate go run -C ../../tools/schemagen . -o ../../pkg/config/schema.json

//go:embed schema.json
var schema []byte

// Schema returns the JSON Schema of slipway.yaml: a fresh copy, which the
// caller may change.
func Schema() ([]byte, error) {
	return append([]byte(nil), schema...), nil
}

package config

import (
	"encoding/json"

	"github.com/invopop/jsonschema"
)

// Schema returns the JSON Schema of slipway.yaml.
func Schema() ([]byte, error) {
	r := &jsonschema.Reflector{FieldNameTag: "yaml", RequiredFromJSONSchemaTags: true}
	s := r.Reflect(&Config{})
	s.Title = "slipway.yaml"
	return json.MarshalIndent(s, "", "  ")
}

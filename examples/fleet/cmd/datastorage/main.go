// datastorage: persists records. Uses yaml.v3 to render its schema.
package main

import (
	"strings"

	"gopkg.in/yaml.v3"

	"example.com/fleet/internal/greet"
)

type schema struct {
	Table   string   `yaml:"table"`
	Columns []string `yaml:"columns,flow"`
}

func main() {
	out, err := yaml.Marshal(schema{Table: "events", Columns: []string{"id", "ts"}})
	if err != nil {
		panic(err)
	}
	greet.Print("datastorage", "yaml="+strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", ";"))
}

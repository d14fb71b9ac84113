// workflow: runs workflows. Parses its config with yaml.v3.
package main

import (
	"strconv"

	"gopkg.in/yaml.v3"

	"example.com/fleet/internal/greet"
)

const config = `
steps: [fetch, analyse, remediate]
`

func main() {
	var cfg struct {
		Steps []string `yaml:"steps"`
	}
	if err := yaml.Unmarshal([]byte(config), &cfg); err != nil {
		panic(err)
	}
	greet.Print("workflow", "steps="+strconv.Itoa(len(cfg.Steps)))
}

package inputs

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// TargetRunSteps lists the RUN steps (as "stage:line") that execute on the
// target platform — stages not pinned to $BUILDPLATFORM — up to target. A
// builder can build any platform for a Dockerfile without them (it only
// copies and cross-compiles), but needs emulation for one with them.
func TargetRunSteps(dockerfile, target string) ([]string, error) {
	df, err := os.ReadFile(dockerfile)
	if err != nil {
		return nil, fmt.Errorf("reading Dockerfile: %w", err)
	}
	ast, err := parser.Parse(bytes.NewReader(df))
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", dockerfile, err)
	}
	stages, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", dockerfile, err)
	}
	var out []string
	for i, st := range stages {
		pinned := strings.Contains(st.Platform, "BUILDPLATFORM")
		for _, c := range st.Commands {
			if r, ok := c.(*instructions.RunCommand); ok && !pinned {
				name := st.Name
				if name == "" {
					name = fmt.Sprint(i)
				}
				line := 0
				if loc := r.Location(); len(loc) > 0 {
					line = loc[0].Start.Line
				}
				out = append(out, fmt.Sprintf("%s:%d", name, line))
			}
		}
		if target != "" && strings.EqualFold(st.Name, target) {
			break
		}
	}
	return out, nil
}

// Package greet formats the one-line status every fleet service prints.
package greet

import (
	"fmt"
	"strings"

	"example.com/fleet/internal/version"
)

// Line returns "<svc> ok <detail...> <version>".
func Line(svc string, detail ...string) string {
	parts := append([]string{svc, "ok"}, detail...)
	parts = append(parts, version.String())
	return strings.Join(parts, " ")
}

// Print writes Line to stdout.
func Print(svc string, detail ...string) { fmt.Println(Line(svc, detail...)) }

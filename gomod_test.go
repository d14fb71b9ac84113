package slipway_test

import (
	"os"
	"regexp"
	"testing"
)

// An importer must be able to meet the library's go directive with any
// patch release of that Go version: a dependency bump that raises it to
// x.y.z with z > 0 forces every importer onto one patch release, so it has
// to be a decision, not an accident of `go get`.
func TestGoDirectiveIsAMinorRelease(t *testing.T) {
	b, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	if !regexp.MustCompile(`^1\.\d+(\.0)?$`).Match(m[1]) {
		t.Fatalf("go.mod says go %s; importers could only build with that patch release or later — pin dependencies that allow go 1.N.0", m[1])
	}
	if regexp.MustCompile(`(?m)^toolchain `).Match(b) {
		t.Fatal("go.mod has a toolchain line; importers would download that toolchain")
	}
}

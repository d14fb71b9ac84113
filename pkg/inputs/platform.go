package inputs

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
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

// NormalizePlatform returns the canonical form of a platform list as
// BuildKit compares platforms: "" is the host's default (linux/GOARCH),
// aliases (x86_64, aarch64) become Go's names and default variants (amd64/v1,
// arm64/v8) are dropped, so equal builds get equal digests.
func NormalizePlatform(p string) (string, error) {
	if strings.TrimSpace(p) == "" {
		p = "linux/" + runtime.GOARCH
	}
	var out []string
	for _, one := range strings.Split(p, ",") {
		parts := strings.Split(strings.ToLower(strings.TrimSpace(one)), "/")
		if len(parts) < 1 || len(parts) > 3 || parts[0] == "" {
			return "", fmt.Errorf("platform %q: want os[/arch[/variant]]", one)
		}
		osName, arch, variant := parts[0], runtime.GOARCH, ""
		if len(parts) == 1 {
			// A lone word is an OS or an architecture; BuildKit reads
			// both, taking the other half from the host.
			if isArch(normalizeArch(osName)) {
				osName, arch = "linux", osName
			}
		}
		if len(parts) > 1 {
			arch = parts[1]
		}
		if len(parts) > 2 {
			variant = parts[2]
		}
		if arch == "armel" && variant == "" {
			variant = "v6"
		}
		arch = normalizeArch(arch)
		variant = normalizeVariant(arch, variant)
		s := osName + "/" + arch
		if variant != "" {
			s += "/" + variant
		}
		out = append(out, s)
	}
	return strings.Join(out, ","), nil
}

func isArch(s string) bool {
	switch s {
	case "amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "mips64le", "loong64":
		return true
	}
	return false
}

// normalizeArch maps an architecture's aliases to Go's name, as
// containerd's platforms.Normalize does.
func normalizeArch(arch string) string {
	switch arch {
	case "i386", "i686", "x86":
		return "386"
	case "x86_64", "x86-64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "armhf", "armel", "arm":
		return "arm"
	}
	return arch
}

// normalizeVariant drops default variants and fills arm's implied one.
func normalizeVariant(arch, variant string) string {
	switch arch {
	case "amd64":
		if variant == "v1" {
			return ""
		}
	case "arm64":
		if variant == "v8" || variant == "8" {
			return ""
		}
	case "arm":
		switch variant {
		case "", "7":
			return "v7"
		case "5", "6", "8":
			return "v" + variant
		}
	}
	return variant
}

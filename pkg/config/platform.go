package config

import (
	"slices"
	"strings"

	"github.com/containerd/platforms"
)

// knownOS and knownArch are the values the OCI image spec allows for os and
// architecture (Go's GOOS and GOARCH); containerd's parser accepts any
// well-formed word in these places, so linux/amd65 would pass it.
var (
	knownOS   = []string{"aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos"}
	knownArch = []string{"386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "ppc64", "ppc64le", "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm"}
)

// checkPlatform checks each platform of s (comma-separated, as BuildKit
// takes them) against the OCI platform grammar os[/arch[/variant]] and the
// known operating systems and architectures.
func (c *Config) checkPlatform(s *Service) {
	if s.Platform == "" {
		return
	}
	at := s.at("platform=")
	for _, spec := range strings.Split(s.Platform, ",") {
		spec = strings.TrimSpace(spec)
		if problem, sug := platformProblem(spec); problem != "" {
			c.addf(at, "service %s: platform %s: %s", s.Name, quote(spec), problem).Suggestion = sug
		}
	}
}

// platformProblem says what is wrong with one platform, and what was
// probably meant.
func platformProblem(spec string) (problem, suggestion string) {
	if spec == "" {
		return "empty (write os/arch, e.g. linux/amd64)", ""
	}
	parts := strings.Split(spec, "/")
	if len(parts) > 3 {
		return "a platform is os[/arch[/variant]]", ""
	}
	p, err := platforms.Parse(spec)
	if err != nil {
		return "not os[/arch[/variant]] (e.g. linux/amd64, linux/arm64/v8)", ""
	}
	if len(parts) >= 2 {
		p = platforms.Normalize(p)
		if !slices.Contains(knownOS, p.OS) {
			return "unknown operating system " + quote(parts[0]), joinSuggestion(closest(parts[0], knownOS), parts, 0)
		}
		if !slices.Contains(knownArch, p.Architecture) {
			return "unknown architecture " + quote(parts[1]), joinSuggestion(closest(parts[1], knownArch), parts, 1)
		}
	}
	return "", ""
}

// joinSuggestion is spec with part i replaced by fix, or "" without a fix.
func joinSuggestion(fix string, parts []string, i int) string {
	if fix == "" {
		return ""
	}
	out := append([]string(nil), parts...)
	out[i] = fix
	return strings.Join(out, "/")
}

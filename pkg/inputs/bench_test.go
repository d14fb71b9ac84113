package inputs

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkWarmDigest8 is the digest part of a warm run: 8 services of one
// repository (a shared tree of 2,000 files, a folder each), one Hasher.
func BenchmarkWarmDigest8(b *testing.B) {
	root := b.TempDir()
	files := map[string]string{".dockerignore": "**/*.md\n"}
	for i := range 2000 {
		files[fmt.Sprintf("shared/p%d/f%d.go", i%40, i)] = fmt.Sprint("package p // ", i)
	}
	for s := range 8 {
		files[fmt.Sprintf("svc/s%d/main.go", s)] = "package main"
		files[fmt.Sprintf("s%d.Dockerfile", s)] = fmt.Sprintf("FROM base AS build\nCOPY shared/ /shared/\nCOPY svc/s%d/ /svc/\nRUN --mount=type=bind,source=svc/s%d,target=/m true\nFROM base\nCOPY --from=build /svc /svc\n", s, s)
	}
	writeFiles(b, root, files)
	resolve := func(context.Context, string) (string, bool) { return "sha256:x", true }
	b.ResetTimer()
	for range b.N {
		h := NewHasher()
		for s := range 8 {
			if _, err := h.Digest(context.Background(), Spec{Dockerfile: filepath.Join(root, fmt.Sprintf("s%d.Dockerfile", s)),
				Context: root, Resolve: resolve}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkExampleFleet digests examples/fleet's 8 services with one fresh
// Hasher, as one warm `slipway build` of it does.
func BenchmarkExampleFleet(b *testing.B) {
	root, err := filepath.Abs("../../examples/fleet")
	if err != nil {
		b.Fatal(err)
	}
	svcs := []string{"gateway", "datastorage", "notification", "aianalysis", "workflow", "remediation", "signalprocessing", "api"}
	resolve := func(context.Context, string) (string, bool) { return "sha256:x", true }
	for range b.N {
		h := NewHasher()
		for _, s := range svcs {
			if _, err := h.Digest(context.Background(), Spec{Dockerfile: filepath.Join(root, "docker", s+".Dockerfile"),
				Context: root, Target: "runtime", Resolve: resolve}); err != nil {
				b.Fatal(s, err)
			}
		}
	}
}

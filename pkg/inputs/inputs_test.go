package inputs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func writeFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const df = `FROM golang AS builder
ARG SVC
COPY go.mod ./
COPY internal/ internal/
COPY cmd/${SVC}/ cmd/${SVC}/
FROM base AS runtime
COPY --from=builder /out /out
`

func TestDigestSeesExactlyWhatTheBuildCan(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "repo")
	writeFiles(t, root, map[string]string{
		"go.mod": "module x", "internal/lib.go": "package lib", "internal/README.md": "docs",
		"cmd/a/main.go": "package main // a", "cmd/b/main.go": "package main // b",
		".dockerignore": "**/*.md\n", "docker/app.Dockerfile": df,
	})
	ids := map[string]string{"golang": "sha256:g1", "base": "sha256:b1"}
	digest := func(svc string) string {
		t.Helper()
		h := NewHasher() // fresh: no cache across edits made in the same instant
		d, err := h.Digest(context.Background(), Spec{
			Dockerfile: filepath.Join(root, "docker/app.Dockerfile"), Context: root, Target: "runtime",
			Args: map[string]string{"SVC": svc},
			Resolve: func(_ context.Context, ref string) (string, bool) {
				id, ok := ids[ref]
				return id, ok
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a0, b0 := digest("a"), digest("b")
	if a0 == b0 {
		t.Fatal("different services share a digest")
	}
	if digest("a") != a0 {
		t.Fatal("digest not stable")
	}
	edit := func(p, c string) { writeFiles(t, root, map[string]string{p: c}) }

	edit("cmd/b/main.go", "package main // b changed")
	if digest("a") != a0 {
		t.Error("editing b's package changed a's digest")
	}
	if digest("b") == b0 {
		t.Error("editing b's package did not change b's digest")
	}
	a1, b1 := digest("a"), digest("b")
	edit("internal/README.md", "ignored docs")
	edit("unrelated.txt", "not copied")
	writeFiles(t, parent, map[string]string{"outside.go": "outside the context"})
	if digest("a") != a1 || digest("b") != b1 {
		t.Error("an ignored, uncopied or outside file changed a digest")
	}
	edit("internal/lib.go", "package lib // shared change")
	if digest("a") == a1 || digest("b") == b1 {
		t.Error("a shared package change left a digest unchanged")
	}
	a2 := digest("a")
	ids["base"] = "sha256:b2"
	if digest("a") == a2 {
		t.Error("a new base image ID left the digest unchanged")
	}
	delete(ids, "golang")
	h := NewHasher()
	_, err := h.Digest(context.Background(), Spec{Dockerfile: filepath.Join(root, "docker/app.Dockerfile"), Context: root,
		Resolve: func(context.Context, string) (string, bool) { return "", false }})
	var u *Unknown
	if !errors.As(err, &u) {
		t.Errorf("missing base image: %v, want *Unknown", err)
	}
}

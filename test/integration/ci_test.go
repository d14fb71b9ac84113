package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestExportImportRoundTripKeepsIDs(t *testing.T) {
	cluster, nodes := newCluster(t)
	r := newRepo(t, map[string]string{"alpha": okWith("alpha"), "beta": okWith("beta")}, "")
	built := r.slipway(context.Background(), []string{"IMAGE_TAG=ci-abc123"}, "build", "--progress", "quiet")
	if built.Code != 0 {
		t.Fatal(built.Stderr)
	}
	archive := filepath.Join(t.TempDir(), "images.tar")
	tmp := t.TempDir()
	exp := r.slipway(context.Background(), []string{"TMPDIR=" + tmp}, "export", "--archive", archive)
	if exp.Code != 0 || strings.Count(exp.Stdout, "exported ") != 2 {
		t.Fatalf("export: exit %d\n%s%s", exp.Code, exp.Stdout, exp.Stderr)
	}
	ids := map[string]string{}
	for s, m := range built.Meta.Services {
		ids[m.Image] = m.ID
		if out, err := exec.Command("docker", "rmi", m.Image).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", s, err, out)
		}
	}
	imp := r.slipway(context.Background(), nil, "import", archive)
	if imp.Code != 0 {
		t.Fatalf("import: %s", imp.Stderr)
	}
	for ref, id := range ids {
		if got := inspect(t, ref).ID; got != id {
			t.Errorf("%s: ID %s after the round trip, was %s", ref, got, id)
		}
	}
	// A later job reuses the imported images instead of building.
	reuse := r.slipway(context.Background(), nil, "build", "--reuse", "ci-abc123", "--progress", "quiet")
	if reuse.Code != 0 {
		t.Fatal(reuse.Stderr)
	}
	for s, m := range reuse.Meta.Services {
		if m.Status != "reused" || m.Tag != "ci-abc123" || m.ID != ids[m.Image] {
			t.Errorf("%s: %+v", s, m)
		}
	}
	// The archive also streams straight into Kind nodes.
	load := r.slipway(context.Background(), nil, "load", "--from", archive, "--cluster", cluster)
	if load.Code != 0 {
		t.Fatalf("load --from: %s%s", load.Stdout, load.Stderr)
	}
	for ref, id := range ids {
		for _, n := range nodes {
			if out := nodeExec(t, n, "crictl", "inspecti", ref); !strings.Contains(out, id) {
				t.Errorf("%s on %s: %s", ref, n, out)
			}
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("temp files left: %v", ents)
	}
}

func TestMetadataShapes(t *testing.T) {
	r := newRepo(t, map[string]string{"alpha": okWith("alpha")}, "")
	dir := t.TempDir()
	bake, skaffold := filepath.Join(dir, "bake.json"), filepath.Join(dir, "skaffold.json")
	for _, c := range [][]string{{"bake", bake}, {"skaffold", skaffold}} {
		res := r.slipway(context.Background(), nil, "build", "--progress", "quiet", "--metadata-format", c[0], "--metadata-file", c[1])
		if res.Code != 0 {
			t.Fatal(res.Stderr)
		}
	}
	var b map[string]map[string]string
	raw, _ := os.ReadFile(bake)
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatalf("bake metadata: %v\n%s", err, raw)
	}
	// Field names from `docker buildx bake --metadata-file`.
	for _, k := range []string{"image.name", "containerimage.digest", "containerimage.config.digest"} {
		if b["alpha"][k] == "" {
			t.Errorf("bake metadata lacks %s: %s", k, raw)
		}
	}
	if img := inspect(t, b["alpha"]["image.name"]); img.ID != b["alpha"]["containerimage.config.digest"] {
		t.Errorf("bake metadata names %s with the wrong digest", b["alpha"]["image.name"])
	}
	// Skaffold's --file-output / --build-artifacts shape.
	var s struct {
		Builds []struct {
			ImageName string `json:"imageName"`
			Tag       string `json:"tag"`
		} `json:"builds"`
	}
	raw, _ = os.ReadFile(skaffold)
	if err := json.Unmarshal(raw, &s); err != nil || len(s.Builds) != 1 {
		t.Fatalf("skaffold metadata: %v\n%s", err, raw)
	}
	if a := s.Builds[0]; !strings.HasPrefix(a.Tag, a.ImageName+":") || !engineHas(a.Tag) {
		t.Errorf("skaffold artifact %+v", a)
	}
	res := r.slipway(context.Background(), nil, "build", "--metadata-format", "xml")
	if res.Code != 2 {
		t.Errorf("unknown format: exit %d", res.Code)
	}
}

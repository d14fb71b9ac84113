package kind

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// dockerSave builds an archive shaped like Docker 20.10's `docker save`.
func dockerSave(t *testing.T, layers [][]byte, config []byte, tag string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Size: int64(len(b)), Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	var paths []string
	for i, l := range layers {
		dir := strings.Repeat(string(rune('a'+i)), 64)
		add(dir+"/VERSION", []byte("1.0"))
		add(dir+"/json", []byte("{}"))
		add(dir+"/layer.tar", l)
		paths = append(paths, dir+"/layer.tar")
	}
	cfgName := strings.TrimPrefix(digestOf(config), "sha256:") + ".json"
	add(cfgName, config)
	m, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{tag}, "Layers": paths}})
	add("manifest.json", m)
	tw.Close()
	return buf.Bytes()
}

func TestFilterArchiveOmitsPresentLayers(t *testing.T) {
	base := bytes.Repeat([]byte("b"), 3000)
	app := bytes.Repeat([]byte("a"), 1234)
	config := []byte(`{"os":"linux","architecture":"amd64"}`)
	in := dockerSave(t, [][]byte{base, app}, config, "localhost/x:1")
	var out bytes.Buffer
	if err := filterArchive(bytes.NewReader(in), &out, map[string]int64{digestOf(base): int64(len(base))}); err != nil {
		t.Fatal(err)
	}
	blobs := map[string][]byte{}
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		blobs[digestOf(b)] = b
		if h.Name == "index.json" {
			blobs["index.json"] = b
		}
	}
	if _, ok := blobs[digestOf(base)]; ok {
		t.Fatal("the present base layer was sent")
	}
	if _, ok := blobs[digestOf(app)]; !ok {
		t.Fatal("the missing layer was not sent")
	}
	if _, ok := blobs[digestOf(config)]; !ok {
		t.Fatal("the config was not sent")
	}
	var idx struct {
		Manifests []struct {
			Digest      string
			Annotations map[string]string
			Platform    map[string]string
		}
	}
	json.Unmarshal(blobs["index.json"], &idx)
	if len(idx.Manifests) != 1 || idx.Manifests[0].Annotations["io.containerd.image.name"] != "localhost/x:1" || idx.Manifests[0].Platform["architecture"] != "amd64" {
		t.Fatalf("index %s", blobs["index.json"])
	}
	var m struct {
		Config struct{ Digest string }
		Layers []struct {
			Digest string
			Size   int64
		}
	}
	json.Unmarshal(blobs[idx.Manifests[0].Digest], &m)
	if m.Config.Digest != digestOf(config) || len(m.Layers) != 2 || m.Layers[0].Digest != digestOf(base) || m.Layers[1].Size != int64(len(app)) {
		t.Fatalf("manifest %+v", m)
	}
}

func TestFilterArchiveWrongGuess(t *testing.T) {
	// A missing layer the same size as a present one: caught, not trusted.
	present := bytes.Repeat([]byte("p"), 2000)
	other := bytes.Repeat([]byte("o"), 2000)
	in := dockerSave(t, [][]byte{other}, []byte(`{}`), "localhost/x:1")
	err := filterArchive(bytes.NewReader(in), io.Discard, map[string]int64{digestOf(present): 2000})
	if !errors.Is(err, errGuess) {
		t.Fatalf("err %v, want errGuess", err)
	}
}

// podmanSave builds an archive shaped like `podman save --format
// docker-archive`: layers at the top as DIGEST.tar, linked from v1 folders.
func podmanSave(t *testing.T, layers [][]byte, config []byte, tag string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Size: int64(len(b)), Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	var paths []string
	for i, l := range layers {
		name := strings.TrimPrefix(digestOf(l), "sha256:") + ".tar"
		add(name, l)
		dir := strings.Repeat(string(rune('a'+i)), 64)
		tw.WriteHeader(&tar.Header{Name: dir + "/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../" + name})
		add(dir+"/json", []byte("{}"))
		paths = append(paths, name)
	}
	cfgName := strings.TrimPrefix(digestOf(config), "sha256:") + ".json"
	add(cfgName, config)
	m, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{tag}, "Layers": paths}})
	add("manifest.json", m)
	tw.Close()
	return buf.Bytes()
}

// Layer-aware loading works on Podman's archive too: a present layer,
// named by its digest, is left out even when another layer has its size.
func TestFilterPodmanArchive(t *testing.T) {
	base := bytes.Repeat([]byte("b"), 3000)
	app := bytes.Repeat([]byte("a"), 3000)
	config := []byte(`{"os":"linux","architecture":"amd64"}`)
	in := podmanSave(t, [][]byte{base, app}, config, "localhost/x:1")
	var out bytes.Buffer
	if err := filterArchive(bytes.NewReader(in), &out, map[string]int64{digestOf(base): int64(len(base))}); err != nil {
		t.Fatal(err)
	}
	sent := map[string]bool{}
	tr := tar.NewReader(&out)
	for {
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		sent[digestOf(b)] = true
	}
	if sent[digestOf(base)] || !sent[digestOf(app)] || !sent[digestOf(config)] {
		t.Errorf("sent base %v app %v config %v", sent[digestOf(base)], sent[digestOf(app)], sent[digestOf(config)])
	}
}

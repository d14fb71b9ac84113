package kind

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Layer-aware loading. containerd's `ctr images import` refuses a Docker
// archive that lacks any layer file, but takes an OCI layout whose blobs
// have any names and whose manifests name layers it already holds. So
// slipway turns the engine's `save` stream into such a layout on the fly,
// leaving out every layer that all target nodes already have. The engine
// still produces the whole archive (it can export nothing smaller), but
// the skipped bytes never cross into the nodes, are not hashed or written
// again there, and no unpack is redone. See docs/kind-loading.md.

const contentRoot = "/var/lib/containerd/io.containerd.content.v1.content/blobs/sha256"

// Docker's media types, which the image-spec does not define; containerd
// stores what `docker save` gave under them, as `kind load` does.
const (
	mediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerConfig   = "application/vnd.docker.container.image.v1+json"
	mediaTypeDockerLayer    = "application/vnd.docker.image.rootfs.diff.tar"
	// annotationImageName is containerd's name for an image in an index.
	annotationImageName = "io.containerd.image.name"
)

// sha256Named is the digest that a blob's file name (its hex part) gives,
// or "" when that is not a valid sha256 digest.
func sha256Named(hx string) digest.Digest {
	if d := digest.NewDigestFromEncoded(digest.SHA256, hx); d.Validate() == nil {
		return d
	}
	return ""
}

// errGuess means a layer was skipped as present by its size, but its
// content turned out to be another; the caller sends everything instead.
var errGuess = errors.New("a layer skipped as present was not")

// filterArchive copies a `docker save` stream (the classic Docker layout or
// Docker 25+'s OCI one) to w as an OCI layout without the layers in
// present (digest -> size). The classic layout names layers by directory,
// not digest, so a layer whose size matches a present one is skipped while
// its digest is computed, and errGuess reports a wrong guess.
func filterArchive(r io.Reader, w io.Writer, present map[string]int64) error {
	bySize := map[int64]bool{}
	for _, s := range present {
		bySize[s] = true
	}
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	descs := map[string]ocispec.Descriptor{} // by archive path; digest and size only
	symlinks := map[string]string{}
	configs := map[string][]byte{}
	var mfsts []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	n := 0
	forward := func(name string, size int64, src io.Reader) error {
		n++
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("blobs/slipway-%d", n), Size: size, Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := io.Copy(tw, src)
		return err
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the saved archive: %w", err)
		}
		name := path.Clean(hdr.Name)
		if hdr.Typeflag == tar.TypeSymlink {
			symlinks[name] = path.Join(path.Dir(name), hdr.Linkname)
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		base := path.Base(name)
		switch {
		case name == "manifest.json":
			if err := json.NewDecoder(tr).Decode(&mfsts); err != nil {
				return fmt.Errorf("reading manifest.json: %w", err)
			}
			continue
		case name == ocispec.ImageIndexFile || name == ocispec.ImageLayoutFile || name == "repositories" || base == "VERSION" || base == "json":
			continue // slipway writes its own index; v1 metadata is unused
		}
		h := digest.SHA256.Digester()
		var known digest.Digest // "" when the name tells no digest
		if hx, ok := strings.CutPrefix(name, "blobs/sha256/"); ok {
			known = sha256Named(hx)
		} else if hx, ok := strings.CutSuffix(name, ".tar"); ok {
			// Podman's docker-archive names each layer by its digest at
			// the top (DIGEST.tar). The bytes are still hashed below, so a
			// name that lies is caught as a wrong guess.
			known = sha256Named(hx)
		}
		skip := known != "" && present[known.String()] == hdr.Size && hdr.Size > 0
		if known == "" && base == "layer.tar" && bySize[hdr.Size] {
			skip = true
		}
		if strings.HasSuffix(name, ".json") || hdr.Size < 1<<20 && !skip {
			// Configs are small and needed whole, for the platform.
			b, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			h.Hash().Write(b)
			configs[name] = b
			if err := forward(name, hdr.Size, bytes.NewReader(b)); err != nil {
				return err
			}
		} else if skip {
			if _, err := io.Copy(h.Hash(), tr); err != nil {
				return err
			}
		} else if err := forward(name, hdr.Size, io.TeeReader(tr, h.Hash())); err != nil {
			return err
		}
		d := h.Digest()
		if skip {
			if _, ok := present[d.String()]; !ok {
				return errGuess
			}
		}
		descs[name] = ocispec.Descriptor{Digest: d, Size: hdr.Size}
	}
	for name, target := range symlinks {
		if d, ok := descs[target]; ok {
			descs[name] = d
		}
	}
	if mfsts == nil {
		return errors.New("the saved archive has no manifest.json")
	}
	index := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	for _, m := range mfsts {
		cfg, ok := descs[path.Clean(m.Config)]
		if !ok {
			return fmt.Errorf("the saved archive lacks config %s", m.Config)
		}
		cfg.MediaType = mediaTypeDockerConfig
		manifest := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: mediaTypeDockerManifest, Config: cfg}
		for _, l := range m.Layers {
			d, ok := descs[path.Clean(l)]
			if !ok {
				return fmt.Errorf("the saved archive lacks layer %s", l)
			}
			d.MediaType = mediaTypeDockerLayer
			manifest.Layers = append(manifest.Layers, d)
		}
		mb, err := json.Marshal(manifest)
		if err != nil {
			return fmt.Errorf("encoding the manifest: %w", err)
		}
		if err := forward("manifest", int64(len(mb)), bytes.NewReader(mb)); err != nil {
			return err
		}
		var img ocispec.Image // its Platform: os, architecture, variant
		_ = json.Unmarshal(configs[path.Clean(m.Config)], &img)
		for _, t := range m.RepoTags {
			named, err := reference.ParseDockerRef(t)
			if err != nil {
				return fmt.Errorf("image name %s: %w", t, err)
			}
			index.Manifests = append(index.Manifests, ocispec.Descriptor{
				MediaType: manifest.MediaType, Digest: digest.FromBytes(mb), Size: int64(len(mb)),
				Platform:    &ocispec.Platform{OS: img.OS, Architecture: img.Architecture, Variant: img.Variant},
				Annotations: map[string]string{annotationImageName: named.String()},
			})
		}
	}
	ib, err := json.Marshal(index)
	if err != nil {
		return fmt.Errorf("encoding the index: %w", err)
	}
	lb, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	for _, f := range []struct {
		name string
		data []byte
	}{{ocispec.ImageIndexFile, ib}, {ocispec.ImageLayoutFile, lb}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Size: int64(len(f.data)), Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

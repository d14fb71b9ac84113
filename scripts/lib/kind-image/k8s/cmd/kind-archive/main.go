// Command kind-archive rewrites a `docker save` archive (read from stdin,
// written to stdout) for kind's node-image builder, which pulls every image
// it needs that the Kubernetes tarball's archives do not name — and pulling
// cannot work here. It finds the names (GetArchiveTags) in whichever of
// manifest.json and repositories comes first in the archive, takes only the
// FIRST image of manifest.json but every one of repositories, and compares
// them as strings with fully-qualified names ("docker.io/kindest/kindnetd:v1"),
// which docker writes short ("kindest/kindnetd:v1"). So the rewrite:
//   - qualifies every name, in manifest.json and repositories;
//   - writes repositories (made from manifest.json) just before manifest.json,
//     at the end, so that kind sees every image of a multi-image archive.
//
// containerd's import reads manifest.json and ignores repositories.
package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if err := rewrite(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "kind-archive: %v\n", err)
		os.Exit(1)
	}
}

// qualify turns a docker reference (or a bare repository name) into its
// fully-qualified form, as containerd names images.
func qualify(ref string) string {
	name, rest := ref, ""
	if at := strings.Index(ref, "@"); at >= 0 {
		name, rest = ref[:at], ref[at:]
	} else if colon := strings.LastIndex(ref, ":"); colon > strings.LastIndex(ref, "/") {
		name, rest = ref[:colon], ref[colon:]
	}
	first, _, found := strings.Cut(name, "/")
	switch {
	case !found:
		name = "docker.io/library/" + name
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		name = "docker.io/" + name
	}
	return name + rest
}

func rewrite(in io.Reader, out io.Writer) error {
	tr := tar.NewReader(in)
	tw := tar.NewWriter(out)
	var manifest []byte
	var manifestHdr *tar.Header
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
		switch hdr.Name {
		case "manifest.json":
			if manifest, err = io.ReadAll(tr); err != nil {
				return fmt.Errorf("reading manifest.json: %w", err)
			}
			manifestHdr = hdr
		case "repositories":
			// Dropped: made again from manifest.json below.
		default:
			if err := tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("writing %s: %w", hdr.Name, err)
			}
			if _, err := io.Copy(tw, tr); err != nil {
				return fmt.Errorf("copying %s: %w", hdr.Name, err)
			}
		}
	}
	if manifestHdr == nil {
		return errors.New("no manifest.json in the archive (not a docker save archive?)")
	}
	var entries []map[string]any
	if err := json.Unmarshal(manifest, &entries); err != nil {
		return fmt.Errorf("parsing manifest.json: %w", err)
	}
	repos := map[string]map[string]string{}
	for _, e := range entries {
		tags, _ := e["RepoTags"].([]any)
		layers, _ := e["Layers"].([]any)
		top := ""
		if len(layers) > 0 {
			top, _ = layers[len(layers)-1].(string)
			top = strings.TrimSuffix(top, "/layer.tar")
		}
		for i, t := range tags {
			s, ok := t.(string)
			if !ok {
				continue
			}
			q := qualify(s)
			tags[i] = q
			name, tag := q, "latest"
			if colon := strings.LastIndex(q, ":"); colon > strings.LastIndex(q, "/") {
				name, tag = q[:colon], q[colon+1:]
			}
			if repos[name] == nil {
				repos[name] = map[string]string{}
			}
			repos[name][tag] = top
		}
	}
	reposData, err := json.Marshal(repos)
	if err != nil {
		return fmt.Errorf("encoding repositories: %w", err)
	}
	if manifest, err = json.Marshal(entries); err != nil {
		return fmt.Errorf("encoding manifest.json: %w", err)
	}
	repoHdr := *manifestHdr
	repoHdr.Name = "repositories"
	if err := put(tw, &repoHdr, reposData); err != nil {
		return err
	}
	if err := put(tw, manifestHdr, manifest); err != nil {
		return err
	}
	return tw.Close()
}

func put(tw *tar.Writer, hdr *tar.Header, data []byte) error {
	h := *hdr
	h.Size = int64(len(data))
	if err := tw.WriteHeader(&h); err != nil {
		return fmt.Errorf("writing %s: %w", h.Name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", h.Name, err)
	}
	return nil
}

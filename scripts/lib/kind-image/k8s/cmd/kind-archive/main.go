// Command kind-archive rewrites a `docker save` archive (read from stdin,
// written to stdout) so that every image name in it is fully qualified:
// docker writes Docker Hub names short ("kindest/kindnetd:v1"), while kind's
// node-image builder compares the archive's tags as strings with the names it
// needs ("docker.io/kindest/kindnetd:v1") and pulls every image it does not
// find — which cannot work here. manifest.json is written before
// repositories, because kind reads whichever of the two comes first.
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
	var repositories []byte
	var repoHdr *tar.Header
	sawManifest := false
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
			data, err := io.ReadAll(tr)
			if err != nil {
				return fmt.Errorf("reading manifest.json: %w", err)
			}
			var entries []map[string]any
			if err := json.Unmarshal(data, &entries); err != nil {
				return fmt.Errorf("parsing manifest.json: %w", err)
			}
			for _, e := range entries {
				tags, _ := e["RepoTags"].([]any)
				for i, t := range tags {
					if s, ok := t.(string); ok {
						tags[i] = qualify(s)
					}
				}
			}
			if data, err = json.Marshal(entries); err != nil {
				return fmt.Errorf("encoding manifest.json: %w", err)
			}
			if err := put(tw, hdr, data); err != nil {
				return err
			}
			sawManifest = true
			if repoHdr != nil {
				if err := writeRepositories(tw, repoHdr, repositories); err != nil {
					return err
				}
				repoHdr = nil
			}
		case "repositories":
			data, err := io.ReadAll(tr)
			if err != nil {
				return fmt.Errorf("reading repositories: %w", err)
			}
			if !sawManifest { // hold it back until manifest.json is out
				repoHdr, repositories = hdr, data
				continue
			}
			if err := writeRepositories(tw, hdr, data); err != nil {
				return err
			}
		default:
			if err := tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("writing %s: %w", hdr.Name, err)
			}
			if _, err := io.Copy(tw, tr); err != nil {
				return fmt.Errorf("copying %s: %w", hdr.Name, err)
			}
		}
	}
	if !sawManifest {
		return errors.New("no manifest.json in the archive (not a docker save archive?)")
	}
	if repoHdr != nil {
		if err := writeRepositories(tw, repoHdr, repositories); err != nil {
			return err
		}
	}
	return tw.Close()
}

func writeRepositories(tw *tar.Writer, hdr *tar.Header, data []byte) error {
	var repos map[string]map[string]string
	if err := json.Unmarshal(data, &repos); err != nil {
		return fmt.Errorf("parsing repositories: %w", err)
	}
	fixed := make(map[string]map[string]string, len(repos))
	for name, tags := range repos {
		fixed[qualify(name)] = tags
	}
	out, err := json.Marshal(fixed)
	if err != nil {
		return fmt.Errorf("encoding repositories: %w", err)
	}
	return put(tw, hdr, out)
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

package slipway

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway-dev/slipway/pkg/config"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/kind"
	"github.com/slipway-dev/slipway/pkg/run"
)

// Export writes images (services of the newest run, or image references;
// none means every service the newest run produced) as one archive at path,
// for a CI artifact. The file appears whole or not at all.
func Export(ctx context.Context, configPath, engineName, path string, images ...string) ([]string, error) {
	eng, err := engine.Detect(ctx, engineName)
	if err != nil {
		return nil, usage(err)
	}
	if len(images) == 0 {
		images, err = newestRunImages(configPath)
		if err != nil {
			return nil, err
		}
	}
	refs, _, err := ResolveImages(configPath, images)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		if strings.HasPrefix(r, "-") {
			return nil, usagef("exporting: %q is not an image reference", r)
		}
	}
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, usagef("exporting: %s exists and is not a regular file", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("exporting: %w", err)
	}
	err = eng.Save(ctx, tmp, refs...)
	if err == nil {
		// The engine's exit status alone is not proof: an archive with no
		// image manifest is an export that did not happen.
		err = checkArchive(tmp)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("exporting to %s: %w", path, err)
	}
	return refs, nil
}

// checkArchive makes sure f holds an image archive: a tar with a
// manifest.json (docker-archive) or index.json (OCI layout).
func checkArchive(f *os.File) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return errors.New("the engine wrote no image archive")
		}
		if err != nil {
			return fmt.Errorf("the engine wrote no valid archive: %w", err)
		}
		if h.Name == "manifest.json" || h.Name == "index.json" {
			return nil
		}
	}
}

// newestRunImages lists the images the newest run of the project produced.
func newestRunImages(configPath string) ([]string, error) {
	cfg, err := config.Load(orDot(configPath))
	if err != nil {
		return nil, usage(err)
	}
	recs, err := run.Records(run.StateDir())
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.Project != cfg.Project {
			continue
		}
		var out []string
		for _, s := range SortedServices(r.Services) {
			if r.Services[s].Status.Produced() {
				out = append(out, r.Services[s].Image)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	return nil, usagef("no run of %s has produced images to export", cfg.Project)
}

// Import loads an archive written by Export into the engine; image IDs are
// kept, so later runs can --reuse them.
func Import(ctx context.Context, engineName, path string) ([]string, error) {
	eng, err := engine.Detect(ctx, engineName)
	if err != nil {
		return nil, usage(err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, usage(fmt.Errorf("importing: %w", err))
	}
	defer f.Close()
	return eng.Load(ctx, f)
}

// LoadArchive streams an archive written by Export straight into every
// node of a Kind cluster, without going through the engine.
func LoadArchive(ctx context.Context, o KindOptions, configCluster, path string) error {
	c, err := findCluster(ctx, o, configCluster)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		return usage(fmt.Errorf("loading archive: %w", err))
	}
	return kind.ImportArchive(ctx, c, func(_ context.Context, w io.Writer) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
}

// Package archive writes images to one file and reads them back: into
// the engine, or streamed straight into Kind nodes (CI artifacts).
package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway-dev/slipway/internal/errs"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/kind"
)

// Write saves refs from eng as one archive at path. The file appears whole
// or not at all.
func Write(ctx context.Context, eng engine.Client, path string, refs ...string) error {
	for _, r := range refs {
		if strings.HasPrefix(r, "-") {
			return errs.Usagef("exporting: %q is not an image reference", r)
		}
	}
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return errs.Usagef("exporting: %s exists and is not a regular file", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("exporting: %w", err)
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
		return fmt.Errorf("exporting to %s: %w", path, err)
	}
	return nil
}

// Read loads the archive at path into eng; image IDs are kept, so later
// runs can --reuse them.
func Read(ctx context.Context, eng engine.Client, path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errs.Usage(fmt.Errorf("importing: %w", err))
	}
	defer f.Close()
	return eng.Load(ctx, f)
}

// ToNodes streams the archive at path straight into every node of c,
// without going through the engine.
func ToNodes(ctx context.Context, c *kind.Cluster, path string) error {
	if _, err := os.Stat(path); err != nil {
		return errs.Usage(fmt.Errorf("loading archive: %w", err))
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

// Package registry asks an image registry about images slipway pushed, and
// re-tags them there without moving layers: what reuse across machines
// needs. The rules that decide whether a registry image may be reused live
// in internal/pipeline; they talk to a Client, which tests replace with
// registryfake.
//
// Credentials come from the engine's login store (the docker CLI's config,
// podman's auth.json) through go-containerregistry's default keychain; they
// never pass through slipway's command lines, logs or records.
package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrNotFound is Inspect's answer for a tag the registry does not hold.
var ErrNotFound = errors.New("not in the registry")

// Image is what the registry says about one tag.
type Image struct {
	// Digest is the manifest's digest: name@Digest is this exact image.
	Digest string
	// ID is the config's digest, which is the image ID an engine gives it.
	ID string
	// Labels are the image config's labels. Index is set for a
	// multi-platform index, which has no single config (and no labels).
	Labels map[string]string
	Index  bool
}

// Client is what the reuse rules need from a registry.
type Client interface {
	// Inspect reads ref's manifest and config; an error wraps ErrNotFound
	// when the tag is not there.
	Inspect(ctx context.Context, ref string) (*Image, error)
	// Tag gives the image src (a tag or name@digest) the tag tag in the
	// same repository; only the manifest is written, no layer moves.
	Tag(ctx context.Context, src, tag string) error
}

// Remote is the Client of real registries.
type Remote struct {
	// Insecure reports whether a registry host may be reached over plain
	// HTTP (loopback ones always may); nil means none.
	Insecure func(host string) bool
}

var _ Client = Remote{}

func (r Remote) parse(ref string) (name.Reference, error) {
	opts := []name.Option{name.StrictValidation}
	if n, err := name.ParseReference(ref); err == nil && r.Insecure != nil && r.Insecure(n.Context().RegistryStr()) {
		opts = append(opts, name.Insecure)
	}
	return name.ParseReference(ref, opts...)
}

func (r Remote) options(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
}

// Inspect implements Client.
func (r Remote) Inspect(ctx context.Context, ref string) (*Image, error) {
	n, err := r.parse(ref)
	if err != nil {
		return nil, fmt.Errorf("registry image %s: %w", ref, err)
	}
	desc, err := remote.Get(n, r.options(ctx)...)
	if err != nil {
		if notFound(err) {
			return nil, fmt.Errorf("registry image %s: %w", ref, ErrNotFound)
		}
		return nil, fmt.Errorf("asking the registry for %s: %w", ref, err)
	}
	out := &Image{Digest: desc.Digest.String()}
	if desc.MediaType.IsIndex() {
		out.Index = true
		return out, nil
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("registry image %s: %w", ref, err)
	}
	id, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("registry image %s: reading its config digest: %w", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("registry image %s: reading its config: %w", ref, err)
	}
	out.ID, out.Labels = id.String(), cfg.Config.Labels
	return out, nil
}

// Tag implements Client.
func (r Remote) Tag(ctx context.Context, src, tag string) error {
	n, err := r.parse(src)
	if err != nil {
		return fmt.Errorf("registry image %s: %w", src, err)
	}
	desc, err := remote.Get(n, r.options(ctx)...)
	if err != nil {
		return fmt.Errorf("asking the registry for %s: %w", src, err)
	}
	t := n.Context().Tag(tag)
	if err := remote.Tag(t, desc, r.options(ctx)...); err != nil {
		return fmt.Errorf("tagging %s as %s in the registry: %w", src, t, err)
	}
	return nil
}

func notFound(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	if te.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range te.Errors {
		if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}

// DigestTagPrefix starts every tag slipway derives from an input digest.
const DigestTagPrefix = "inputs-"

var notTagChar = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// DigestTag is the tag an image with these inputs (the dev.slipway.inputs
// label's value, "sha256:HEX") is pushed under, so that any machine can
// find it: inputs-HEX, within the 128 characters a tag may have.
func DigestTag(inputs string) string {
	_, hex, ok := strings.Cut(inputs, ":")
	if !ok {
		hex = inputs
	}
	t := DigestTagPrefix + notTagChar.ReplaceAllString(hex, "_")
	if len(t) > 128 {
		t = t[:128]
	}
	return t
}

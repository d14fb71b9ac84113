package registry

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Remote against go-containerregistry's in-memory registry: labels come
// from the config, a missing tag is ErrNotFound, and Tag writes only the
// manifest under the new tag.
func TestRemote(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Labels: map[string]string{"dev.slipway.inputs": "sha256:abc"}})
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/demo-api:" + DigestTag("sha256:abc")
	n, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(n, img); err != nil {
		t.Fatal(err)
	}
	r := Remote{Insecure: func(h string) bool { return h == host }}
	ctx := context.Background()
	got, err := r.Inspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := img.ConfigName()
	d, _ := img.Digest()
	if got.Labels["dev.slipway.inputs"] != "sha256:abc" || got.ID != id.String() || got.Digest != d.String() || got.Index {
		t.Fatalf("inspect: %+v", got)
	}
	if _, err := r.Inspect(ctx, host+"/demo-api:nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing tag: %v", err)
	}
	if _, err := r.Inspect(ctx, host+"/no-such-repo:x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing repository: %v", err)
	}
	if err := r.Tag(ctx, host+"/demo-api@"+got.Digest, "api-me-1"); err != nil {
		t.Fatal(err)
	}
	again, err := r.Inspect(ctx, host+"/demo-api:api-me-1")
	if err != nil || again.Digest != got.Digest {
		t.Fatalf("re-tagged: %+v %v", again, err)
	}
}

func TestDigestTag(t *testing.T) {
	hex := strings.Repeat("0123456789abcdef", 4)
	if got := DigestTag("sha256:" + hex); got != "inputs-"+hex {
		t.Errorf("DigestTag = %s", got)
	}
	if got := DigestTag("weird:a/b" + strings.Repeat("x", 200)); len(got) != 128 || strings.Contains(got, "/") {
		t.Errorf("DigestTag of an odd value = %s", got)
	}
}

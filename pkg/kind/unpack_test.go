package kind

import (
	"context"
	"slices"
	"testing"
)

func TestUnpackMode(t *testing.T) {
	ctx := context.Background()
	if got := unpackMode(ctx); got != DefaultUnpack {
		t.Errorf("no mode: %v, want the default %v", got, DefaultUnpack)
	}
	if got := unpackMode(WithUnpack(ctx, UnpackDefault)); got != DefaultUnpack {
		t.Errorf("UnpackDefault: %v, want %v", got, DefaultUnpack)
	}
	for _, u := range []Unpack{UnpackAtImport, UnpackOnFirstUse} {
		if got := unpackMode(WithUnpack(ctx, u)); got != u {
			t.Errorf("WithUnpack(%v): %v", u, got)
		}
	}
}

func TestParseUnpack(t *testing.T) {
	for _, u := range []Unpack{UnpackDefault, UnpackAtImport, UnpackOnFirstUse} {
		if got, ok := ParseUnpack(u.String()); !ok || got != u {
			t.Errorf("ParseUnpack(%q) = %v, %v", u.String(), got, ok)
		}
	}
	if _, ok := ParseUnpack("sometimes"); ok {
		t.Error("ParseUnpack took an unknown mode")
	}
}

func TestImportArgs(t *testing.T) {
	if a := importArgs(UnpackOnFirstUse, "overlayfs"); !slices.Contains(a, "--no-unpack") || a[len(a)-1] != "-" {
		t.Errorf("on first use: %v", a)
	}
	a := importArgs(UnpackAtImport, "native")
	if slices.Contains(a, "--no-unpack") || !slices.Contains(a, "--snapshotter=native") {
		t.Errorf("at import: %v", a)
	}
}

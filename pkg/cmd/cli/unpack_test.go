package cli

import (
	"context"
	"testing"

	"github.com/slipway-dev/slipway/pkg/kind"
)

// --unpack beats $SLIPWAY_KIND_UNPACK, which beats kind's default; a mode
// that is neither is bad usage, named by where it came from.
func TestUnpackFromEnv(t *testing.T) {
	t.Setenv("SLIPWAY_KIND_UNPACK", "")
	if u, err := UnpackFromEnv(""); err != nil || u != kind.UnpackDefault {
		t.Errorf("nothing set: %v, %v", u, err)
	}
	t.Setenv("SLIPWAY_KIND_UNPACK", "on-first-use")
	if u, _ := UnpackFromEnv(""); u != kind.UnpackOnFirstUse {
		t.Errorf("from the environment: %v", u)
	}
	if u, _ := UnpackFromEnv("at-import"); u != kind.UnpackAtImport {
		t.Errorf("the flag beats the environment: %v", u)
	}
	t.Setenv("SLIPWAY_KIND_UNPACK", "lazily")
	if _, err := UnpackFromEnv(""); Code(context.Background(), err) != ExitUsage {
		t.Errorf("a bad SLIPWAY_KIND_UNPACK: %v, want a usage error", err)
	}
	u := &Unpack{flag: "sometimes"}
	if _, err := u.Context(context.Background()); err == nil {
		t.Error("a bad --unpack was taken")
	}
}

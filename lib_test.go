package slipway_test

import (
	"context"
	"testing"

	"github.com/slipway-dev/slipway"
)

func TestTagsAndUsageErrors(t *testing.T) {
	_, err := slipway.Tags(context.Background(), slipway.Options{Config: "testdata/hello", Services: []string{"nope"}})
	if !slipway.IsUsage(err) {
		t.Fatalf("unknown service: %v", err)
	}
	_, err = slipway.Tags(context.Background(), slipway.Options{Config: "testdata/hello", Tag: "a:b"})
	if !slipway.IsUsage(err) {
		t.Fatalf("bad tag: %v", err)
	}
}

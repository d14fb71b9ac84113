package cli

import (
	"os"
	"strconv"

	"github.com/slipway-dev/slipway/pkg/kind"
	"github.com/slipway-dev/slipway/pkg/tag"
)

// A run's settings from the environment (IMAGE_TAG, SLIPWAY_REUSE_TAG,
// SLIPWAY_HOST_JOBS, SLIPWAY_KIND_UNPACK) are read here, at the CLI's edge,
// and nowhere in the library: library callers pass values. What the library
// itself reads is where the machine keeps shared state or how it reaches
// its daemons (SLIPWAY_STATE_DIR, SLIPWAY_HOST_SLOTS_DIR,
// SLIPWAY_NODE_LOCK_DIR, DOCKER_HOST and the docker config, SLIPWAY_BUILDKIT,
// SLIPWAY_NODE_STALL_TIMEOUT): every slipway process on a machine, CLI or
// E2E suite, must agree on those, so none of them can choose alone.

// TagFromEnv is flag, else $IMAGE_TAG (checked, so that a bad one is named).
func TagFromEnv(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	v := os.Getenv("IMAGE_TAG")
	if v == "" {
		return "", nil
	}
	if err := tag.Validate(v); err != nil {
		return "", UsageErr("IMAGE_TAG: %v", err)
	}
	return v, nil
}

// ReuseFromEnv is flag, else $SLIPWAY_REUSE_TAG.
func ReuseFromEnv(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("SLIPWAY_REUSE_TAG")
}

// HostJobsFromEnv is flag, else $SLIPWAY_HOST_JOBS, else 0 (no host bound).
func HostJobsFromEnv(flag int) (int, error) {
	if flag != 0 {
		return flag, nil
	}
	v := os.Getenv("SLIPWAY_HOST_JOBS")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, UsageErr("SLIPWAY_HOST_JOBS=%q: want a number of builds", v)
	}
	return n, nil
}

// UnpackFromEnv is flag, else $SLIPWAY_KIND_UNPACK (at-import or
// on-first-use), else kind's default.
func UnpackFromEnv(flag string) (kind.Unpack, error) {
	v, what := flag, "--unpack"
	if v == "" {
		v, what = os.Getenv("SLIPWAY_KIND_UNPACK"), "SLIPWAY_KIND_UNPACK"
	}
	u, ok := kind.ParseUnpack(v)
	if !ok {
		return kind.UnpackDefault, UsageErr("%s=%q: want %s or %s", what, v, kind.UnpackAtImport, kind.UnpackOnFirstUse)
	}
	return u, nil
}
